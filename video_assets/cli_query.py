"""`video-assets clips` (list clips by condition) and `video-assets ask` (multiple-choice QA)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from video_assets.cli_options import add_output_and_json, picked
from video_assets.shown_names import escape_name

WHERE_HELP = (
    "filter, as in search: columns (duration_s, video_id, source_path, span_start_s, text_match, "
    "text_match_prob, created_at, ...), text_score('TEXT') for one of texts_to_verify, AND/OR, "
    "IN (...), IS [NOT] NULL; e.g. \"duration_s > 3 AND text_score('a dog') > 0.5\""
)
CURATION_HELP = (
    "; also the curation columns: duplicates (dup_group, keep, sim_to_kept, group_size, cluster_id) and "
    "clip filters (filter_keep, motion, reason('static'|'black'|'frozen'|'duplicate'|'too_short'|'too_long'|"
    "'too_few_frames'|'low_text_score')), e.g. \"keep = false\" or \"reason('static')\""
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `clips` and `ask` subcommands to the `video-assets` parser."""
    p = sub.add_parser("clips", help="list indexed clips by condition (no query vector)")
    p.add_argument("--where", help=WHERE_HELP + CURATION_HELP + " (default: every clip)")
    p.add_argument("--model", help="embedder whose table to list (default: the first enabled one)")
    p.add_argument("--limit", type=int, default=100, help="clips per page (default 100, at most 1000)")
    p.add_argument("--offset", type=int, default=0, help="skip this many clips (paging)")
    add_output_and_json(p, "print the clips as JSON")
    p.set_defaults(func=cmd_clips)

    p = sub.add_parser("ask", help="multiple-choice QA: rank candidate answers over the clips a question retrieves")
    p.add_argument("question", help='e.g. "what is the man holding?"')
    p.add_argument(
        "--choices", nargs="+", required=True, metavar="ANSWER", help='candidate answers, e.g. "a cup" "a phone"'
    )
    p.add_argument("--model", help="embedder with a text tower (default: the first enabled one)")
    p.add_argument("-k", type=int, default=5, help="clips retrieved by the question and scored (default 5)")
    p.add_argument(
        "--scale",
        choices=["reference", "model"],
        help="softmax of 100*cosine (reference) or of the model's logit scale "
        "(default: the model's text_match_scale setting)",
    )
    p.add_argument(
        "--template",
        default="{answer}",
        help='how a choice is embedded, e.g. "a man holding {answer}" or "{question} {answer}" '
        "(default: the choice as given)",
    )
    p.add_argument("--where", help="restrict the clips retrieved; " + WHERE_HELP)
    add_output_and_json(p, "print the ranked answers and their clips as JSON")
    p.set_defaults(func=cmd_ask)


def cmd_clips(args: argparse.Namespace) -> int:
    from video_assets.cli import _settings
    from video_assets.curation.clip_list import list_clips, scored_texts
    from video_assets.index.connection import connect
    from video_assets.index.filters import parse_where, text_score_texts
    from video_assets.query import default_model, existing_index

    settings = _settings(args)
    if args.where is not None:
        parse_where(args.where, curation=True)  # a malformed filter is reported before any table is opened
    model = args.model or default_model(settings, needs_text=False)
    db = connect(existing_index(settings))
    listing = list_clips(db, model, where=args.where, limit=args.limit, offset=args.offset, data_dir=settings.data_dir)
    for note in _curation_notes(listing, args.where):
        print(f"note: {note}", file=sys.stderr)
    if listing.unscored_texts:
        known = scored_texts(db, model)
        print(
            f"note: no clip of {model} has a score for {', '.join(map(repr, listing.unscored_texts))}; "
            f"its scored texts (texts_to_verify): {', '.join(map(repr, known)) or 'none'}",
            file=sys.stderr,
        )
    if args.json:
        print(json.dumps(asdict(listing), indent=2, default=str, ensure_ascii=False))
        return 0
    shown = text_score_texts(parse_where(args.where, curation=True)) if args.where else []
    end = listing.offset + len(listing.rows)
    print(f"{listing.total} clip(s) of {model} match" + (f"; {listing.offset + 1}-{end} shown" if listing.rows else ""))
    for rank, row in enumerate(listing.rows, listing.offset + 1):
        print(f"{rank:>4}. {_clip_line(row)}{_scores(row, shown)}{_curation(row)}")
    if end < listing.total:
        print(f"      ... {listing.total - end} more: --offset {end}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from video_assets.cli import _settings
    from video_assets.curation.qa import ask

    result = ask(
        _settings(args), args.question, args.choices, **picked(args, "model", "k", "scale", "template", "where")
    )
    if args.json:
        print(json.dumps(asdict(result), indent=2, ensure_ascii=False))
        return 0
    how = "100*cosine" if result.scale_source == "reference" else f"the model's logit scale {result.scale:.2f}*cosine"
    print(f"{result.question!r}: {len(result.clips)} clip(s) of {result.model}, answers by softmax of {how}")
    if not result.clips:
        print("no clip to answer from (empty index, or --where matched nothing)")
        return 0
    by_id = {c.hit.clip_id: c for c in result.clips}
    for rank, answer in enumerate(result.answers, 1):
        print(f"{rank:>3}. {answer.prob:.4f}  {answer.answer}  (best for {answer.votes} of {len(result.clips)} clips)")
        for clip_id in answer.clip_ids:
            clip = by_id[clip_id]
            print(f"       p={clip.probs[answer.answer]:.4f}  q={clip.hit.score:.4f}  {_clip_line(asdict(clip.hit))}")
    return 0


def _clip_line(row: dict[str, Any]) -> str:
    where = escape_name(row.get("clip_path") or row["source_path"])
    return f"{row['clip_id']}  {row['video_id']}  [{row['span_start_s']:.2f}s-{row['span_end_s']:.2f}s]  {where}"


def _curation(row: dict[str, Any]) -> str:
    """`  dup of <kept id>` / `  kept of N` and `  drop: reasons` when known."""
    out = ""
    if row.get("dup_group") is not None:
        out += f"  kept of {row['group_size']}" if row.get("keep") else f"  dup of {row['dup_group']}"
    if row.get("filter_reasons"):
        out += f"  drop: {', '.join(row['filter_reasons'])}"
    return out


def _curation_notes(listing: Any, where: str | None) -> list[str]:
    """Why a filter on curation columns may match nothing: the file it reads is not there yet."""
    from video_assets.curation.filter_read import FILTER_TERMS
    from video_assets.curation.where_eval import curation_names
    from video_assets.index.filters import parse_where

    info = listing.curation
    if info is None or where is None:
        return []
    used = curation_names(parse_where(where, curation=True))
    model, notes = listing.model, []
    if not info.duplicates and used - FILTER_TERMS:
        notes.append(
            f"no duplicates for {model} yet: dup_group, keep, sim_to_kept, group_size and cluster_id "
            f"are null (run `video-assets duplicates --model {model}`)"
        )
    if not info.filters and used & FILTER_TERMS:
        notes.append(
            f"no clip filters for {model} yet: filter_keep, motion and reason(...) are null "
            f"(materialize {model}_clip_filters)"
        )
    elif info.without_filters and used & FILTER_TERMS:
        notes.append(
            f"{info.without_filters} clip(s) have no filter result yet: filter_keep, motion and reason(...) are "
            f"null for them, so this filter cannot decide on them (run `video-assets filters --model {model}`)"
        )
    return notes


def _scores(row: dict[str, Any], texts: list[str]) -> str:
    scores = row.get("text_scores") or {}
    return "".join(f"  {text}={scores[text]:.4f}" for text in texts if text in scores)
