"""The application layer: what a user runs over a data directory besides the CLI (the `browse` web view)."""
