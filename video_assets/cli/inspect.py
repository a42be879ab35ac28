"""`probe`, `models` and `doctor`: what a file, the weights and this machine hold."""

from __future__ import annotations

import argparse
import json
from typing import get_args

from video_assets.cli.common import add_output, settings_from_args
from video_assets.settings.config import SceneDetector


def cmd_probe(args: argparse.Namespace) -> int:
    from video_assets.media.probe import probe

    info = probe(args.file).to_dict()
    if args.scenes:
        from video_assets.media.scene_cut_report import scene_cuts
        from video_assets.stages.clips import learned_cut_probabilities

        cuts = scene_cuts(args.file, args.scenes, cut_probabilities=learned_cut_probabilities(args.scenes))
        info["scene_cuts"] = [cut.to_dict() for cut in cuts]
    if args.json:
        print(json.dumps(info, indent=2))
    else:
        for key, value in info.items():
            print(f"{key:>12}: {value}")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    from video_assets.cli.model_table import model_row, table_lines
    from video_assets.models.embedder_registry import get, registered
    from video_assets.models.hub import ModelHub, status_rows

    settings = settings_from_args(args)
    hub = ModelHub(settings.paths.model_dir)
    if args.action == "download":
        entry = get(args.name)
        if entry.weights is None:
            print(f"{args.name} needs no weights")
            return 0
        for repo_id, path in hub.download(entry.weights).items():
            print(f"{repo_id}: {path}")
        return 0
    entries = list(registered().values())
    table = [model_row(entry, hub) for entry in entries]
    if args.json:
        specs = [e.weights for e in entries if e.weights is not None]
        models = status_rows(hub.list(specs))
        print(json.dumps({"model_dir": str(hub.model_dir), "embedders": table, "models": models}, indent=2))
        return 0
    print("\n".join(table_lines(table)))
    print("where each repo lives, missing files: `video-assets models list --json`")
    print(f"model dir: {hub.model_dir}")
    return 0


def cmd_doctor(args: argparse.Namespace) -> int:
    from video_assets.app.doctor import diagnose

    report = diagnose(settings_from_args(args))
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        print("\n".join(report.lines()))
    return 0 if report.can_run else 1


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("probe", help="probe one video file")
    p.add_argument("file", help="a video file")
    p.add_argument("--json", action="store_true", help="print the probe as JSON")
    p.add_argument(
        "--scenes",
        choices=get_args(SceneDetector),
        help="also list where this scene detector cuts (scene_cuts: frame, time_s, score; docs/scene_cuts.md)",
    )
    p.set_defaults(func=cmd_probe)

    p = sub.add_parser("models", help="list or download model weights")
    p.add_argument("action", choices=["list", "download"], help="list the weights, or download one model's")
    p.add_argument("name", nargs="?", help="the model to download (see `models list`)")
    p.add_argument("--output", help="data directory (weights go to <data>/models)")
    p.add_argument("--json", action="store_true", help="list as JSON (status, sizes, revisions, where each lives)")
    p.set_defaults(func=cmd_models)

    p = sub.add_parser(
        "doctor",
        help="check this machine: Python, torch/CUDA, PyAV/FFmpeg codecs, "
        "LanceDB, Dagster, weights, disk; exit 1 when the main job cannot run",
    )
    add_output(p)
    p.add_argument("--models", help="comma-separated embedders to require (default: the enabled ones)")
    p.add_argument("--json", action="store_true", help="the checks as JSON")
    p.set_defaults(func=cmd_doctor)
