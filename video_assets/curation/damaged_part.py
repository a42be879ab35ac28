"""A stored part (Parquet) that cannot be read: say which file, and the command that rewrites it.

Running the reader again (`filters`) fails the same way; only the stage that wrote the part can
replace it, and `run --all` reruns every stage of every partition.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path

import pyarrow as pa


class DamagedPart(ValueError):
    """A stored partition file that is truncated or not Parquet."""


def rewrite_command(data_dir: Path, input_dir: Path | None) -> str:
    """The command that rewrites every stored part of the data directory (`run --all`)."""
    source = f"--input {input_dir}" if input_dir is not None else "--input <your videos>"
    return f"video-assets run --all {source} --output {data_dir}"


def checked_row_groups(path: Path, row_groups: Iterable[pa.Table], *, what: str, fix: str) -> Iterator[pa.Table]:
    """`row_groups` as they are read, with a read error of the file turned into `DamagedPart` naming it."""
    try:
        yield from row_groups
    except (pa.ArrowException, OSError) as err:
        reason = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise DamagedPart(
            f"{path}: the stored {what} cannot be read ({reason}): `{fix}` rewrites it"
        ) from None  # the CLI shows the innermost cause
