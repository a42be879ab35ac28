"""The input folder and the data directory must not be one inside the other the wrong way round.

A data directory inside the input folder works: the walk leaves it out (our own clip files
are not new videos). An input folder that is the data directory, or lies inside it, would be
left out whole, and `run` said "no video files found", exit 0: it is refused instead.
"""

from __future__ import annotations

from pathlib import Path


class FoldersOverlap(ValueError):
    """The input folder is the data directory or lies inside it."""


def check_folders(input_dir: Path, data_dir: Path) -> None:
    """Raise `FoldersOverlap` when `input_dir` is `data_dir` or under it (both compared resolved)."""
    source, data = Path(input_dir).resolve(), Path(data_dir).resolve()
    if source == data:
        raise FoldersOverlap(
            f"--input and --output are the same folder ({source}): the data directory holds the pipeline's "
            "own files; give a separate data directory, e.g. --output "
            f"{source.parent / (source.name + '-data')}"
        )
    if source.is_relative_to(data):
        raise FoldersOverlap(
            f"the input folder {source} lies inside the data directory {data}: its videos would be taken "
            "for the pipeline's own files and skipped; move the videos out, or give a data directory outside it"
        )
