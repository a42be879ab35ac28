"""video-assets: clip-level video embeddings as Dagster assets, ending in a LanceDB index."""

__version__ = "0.1.0"
