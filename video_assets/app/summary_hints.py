"""What the end of `run` (and `demo`) tells a user to do next: the learned models the default set left out
because their weights are absent, and the commands that work on the index just built."""

from __future__ import annotations

import os
import shlex
from pathlib import Path
from typing import TextIO

from video_assets.models.embedder_registry import default_skipped
from video_assets.models.hub import ModelHub
from video_assets.models.registered_embedder import RegisteredEmbedder
from video_assets.settings.config import Settings

RED, RESET = "\033[31m", "\033[0m"


def skipped_models(settings: Settings) -> list[RegisteredEmbedder]:
    """The learned models a default run leaves out (weights absent); none when `--models` chose the set."""
    if settings.enabled_models is not None:
        return []
    return default_skipped(ModelHub(settings.paths.model_dir))


def skipped_model_lines(skipped: list[RegisteredEmbedder], data_dir: Path) -> list[str]:
    """One line per skipped model, with the command that fetches its weights into this data directory."""
    if not skipped:
        return []
    output = shlex.quote(str(data_dir))
    return ["", "learned models skipped (weights absent):"] + [
        f"  {e.spec.name}: {e.spec.model_id}@{e.spec.revision} — "
        f"get it with `video-assets models download {e.spec.name} --output {output}`"
        for e in skipped
    ]


def next_step_lines(data_dir: Path) -> list[str]:
    """The curation and browsing commands, pointed at the data directory the run wrote."""
    output = f"--output {shlex.quote(str(data_dir))}"
    return [
        "",
        "next:",
        f"  video-assets duplicates {output}   near-duplicate clip groups",
        f"  video-assets filters {output}      keep/drop each clip with its reasons",
        f'  video-assets clips {output} --where "filter_keep = true"   list the kept clips',
        f"  video-assets browse {output}       a web page over clips, search and duplicates",
    ]


def use_colour(stream: TextIO) -> bool:
    """Colour on a terminal only, and never when NO_COLOR is set (https://no-color.org)."""
    isatty = getattr(stream, "isatty", None)
    return bool(isatty and isatty()) and not os.environ.get("NO_COLOR")


def painted(line: str, *, colour: bool) -> str:
    """FAILED lines in red where colour is on; every other line as it is."""
    return f"{RED}{line}{RESET}" if colour and line.startswith("FAILED") else line
