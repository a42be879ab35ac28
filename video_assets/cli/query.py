"""`video-assets search` (nearest clips), `clips` (list clips by condition) and `ask` (multiple-choice QA)."""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict
from typing import Any

from video_assets.catalog.shown_names import escape_name
from video_assets.cli.common import add_output_and_json, picked, settings_from_args

WHERE_HELP = (
    "filter, as in search: columns (duration_s, video_id, source_path, span_start_s, text_match, "
    "text_match_prob, created_at, ...), text_score('TEXT') for one of texts_to_verify, AND/OR, "
    "IN (...), IS [NOT] NULL; e.g. \"duration_s > 3 AND text_score('a dog') > 0.5\""
)
CURATION_HELP = (
    "; also the curation columns: duplicates (dup_group, dup_keep, sim_to_kept, group_size, cluster_id) and "
    "clip filters (filter_keep, motion, reason('static'|'black'|'frozen'|'duplicate'|'too_short'|'too_long'|"
    "'too_few_frames'|'low_text_score')), e.g. \"dup_keep = false\" or \"reason('static')\""
)


def register(sub: argparse._SubParsersAction) -> None:
    """Add the `search`, `clips` and `ask` subcommands to the `video-assets` parser."""
    p = sub.add_parser("search", help="search the clip index")
    p.add_argument("text", nargs="?", help="a text query (models with a text tower)")
    p.add_argument("--like-clip", help="an indexed clip id")
    p.add_argument("--like-file", help="a video file, embedded on the fly")
    p.add_argument("--model", help="embedder (default: the first enabled one that fits the query)")
    p.add_argument("-k", type=int, default=10, help="hits to return (default 10)")
    p.add_argument("--where", help=WHERE_HELP + CURATION_HELP + "; search within the clips it keeps")
    p.add_argument("--nprobes", type=int, help="IVF partitions to probe (ANN index only)")
    p.add_argument("--refine-factor", type=int, help="re-rank k*F candidates with exact cosine")
    p.add_argument("--exact", action="store_true", help="brute force, ignore any ANN index")
    p.add_argument("--ef", type=int, help="HNSW candidate list size (HNSW index only; larger: better recall, slower)")
    p.add_argument("--no-sidecar", action="store_true", help="ask LanceDB even when a current faiss sidecar exists")
    p.add_argument("--offset", type=int, default=0, help="skip this many results (paging)")
    p.add_argument("--explain", action="store_true", help="print the query plan instead of results")
    add_output_and_json(p, "print the hits as JSON")
    p.set_defaults(func=cmd_search)

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
    from video_assets.curation.clip_query import query_clips

    answer = query_clips(
        settings_from_args(args), where=args.where, model=args.model, limit=args.limit, offset=args.offset
    )
    for note in answer.notes:
        print(f"note: {note}", file=sys.stderr)
    listing = answer.listing
    if args.json:
        print(json.dumps(asdict(listing), indent=2, default=str, ensure_ascii=False))
        return 0
    end = listing.offset + len(listing.rows)
    print(
        f"{listing.total} clip(s) of {listing.model} match"
        + (f"; {listing.offset + 1}-{end} shown" if listing.rows else "")
    )
    for rank, row in enumerate(listing.rows, listing.offset + 1):
        print(f"{rank:>4}. {_clip_line(row)}{_scores(row, answer.shown_texts)}{_curation(row)}")
    if end < listing.total:
        print(f"      ... {listing.total - end} more: --offset {end}")
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    from video_assets.curation.qa import ask

    result = ask(
        settings_from_args(args),
        args.question,
        args.choices,
        **picked(args, "model", "k", "scale", "template", "where"),
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
        out += f"  kept of {row['group_size']}" if row.get("dup_keep") else f"  dup of {row['dup_group']}"
    if row.get("filter_reasons"):
        out += f"  drop: {', '.join(row['filter_reasons'])}"
    return out


def _scores(row: dict[str, Any], texts: list[str]) -> str:
    scores = row.get("text_scores") or {}
    return "".join(f"  {text}={scores[text]:.4f}" for text in texts if text in scores)


def cmd_search(args: argparse.Namespace) -> int:
    from video_assets.curation.query import explain, search
    from video_assets.index.search import SearchRequest

    knobs = picked(args, "k", "where", "nprobes", "ef", "refine_factor", "exact", "offset")
    request = SearchRequest(**knobs, sidecar=not args.no_sidecar)
    query = picked(args, "text", "like_clip", "like_file", "model")
    if args.explain:
        print(explain(settings_from_args(args), request=request, **query))
        return 0
    hits = search(settings_from_args(args), request=request, **query)
    if args.json:
        print(json.dumps([asdict(h) for h in hits], indent=2))
        return 0
    if not hits:
        print("no results")
    for rank, hit in enumerate(hits, 1):
        where = escape_name(hit.clip_path or hit.source_path)
        print(
            f"{rank:>3}. {hit.score:.4f}  {hit.clip_id}  {hit.video_id}  "
            f"[{hit.span_start_s:.2f}s-{hit.span_end_s:.2f}s]  {where}"
        )
    return 0
