"""The one partitioning of the graph: a dynamic partition per video (or batch of videos), and the
decorator of the assets partitioned by it."""

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import dagster as dg

from video_assets.orchestration.assets.check_evaluations import with_unplanned_checks

videos_partitions = dg.DynamicPartitionsDefinition(name="videos")


def partitioned_asset(
    name: str,
    group: str,
    *,
    check: str,
    check_description: str,
    blocking: bool,
    description: str,
    metadata: Mapping[str, Any],
    deps: Sequence[Any] = (),
    code_version: str | None = None,
    kinds: set[str] | None = None,
    op_tags: Mapping[str, Any] | None = None,
    pool: str | None = None,
    retry_policy: dg.RetryPolicy | None = None,
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """The asset `name`, partitioned by video, in `group`, with the one asset check on its output
    (`blocking`: whether a failed check stops the steps downstream).

    A one-asset `multi_asset` rather than `dg.asset` only so that a job may select the asset
    without its check (`can_subset`): the embed job does (definitions.py), and its steps record
    the check's evaluation themselves (check_evaluations.py). Key, op, output name ("result"),
    deps and code version are what `dg.asset` gave."""
    out = dg.AssetOut(key=name, description=description, metadata=metadata, code_version=code_version, kinds=kinds)
    spec = partitioned_check(check, name, blocking=blocking, description=check_description)

    def decorate(compute: Callable[..., Any]) -> dg.AssetsDefinition:
        return dg.multi_asset(
            name=name,
            outs={"result": out},
            deps=deps,
            description=description,
            partitions_def=videos_partitions,
            group_name=group,
            check_specs=[spec],
            can_subset=True,
            op_tags=op_tags,
            pool=pool,
            retry_policy=retry_policy,
        )(with_unplanned_checks(compute, spec))

    return decorate


def partitioned_check(name: str, asset: str, *, blocking: bool, description: str) -> dg.AssetCheckSpec:
    """The check of a video-partitioned asset, partitioned like it: Dagster then records each check
    evaluation for its partition, and the check's Partitions tab shows each partition's outcome."""
    with warnings.catch_warnings():
        # "Specifying a partitions_def on an AssetCheckSpec" is a preview feature of Dagster 1.13.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name, asset=asset, blocking=blocking, description=description, partitions_def=videos_partitions
        )
