"""The one partitioning of the graph: a dynamic partition per video (or batch of videos), and the
decorator of the assets partitioned by it."""

import warnings
from collections.abc import Callable
from typing import Any

import dagster as dg

videos_partitions = dg.DynamicPartitionsDefinition(name="videos")


def partitioned_asset(
    name: str, group: str, *, check: str, check_description: str, blocking: bool, **asset_args: Any
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`dg.asset` for `name`, partitioned by video, in `group`, with the one asset check on its output
    (`blocking`: whether a failed check stops the steps downstream); `asset_args` go to `dg.asset` as given."""
    return dg.asset(
        name=name,
        partitions_def=videos_partitions,
        group_name=group,
        check_specs=[partitioned_check(check, name, blocking=blocking, description=check_description)],
        **asset_args,
    )


def partitioned_check(name: str, asset: str, *, blocking: bool, description: str) -> dg.AssetCheckSpec:
    """The check of a video-partitioned asset, partitioned like it: Dagster then records each check
    execution for its partition, so a partition whose run failed before its asset materialized
    shows as that partition's outcome, not as the check's latest result over the passes of the
    others (an unpartitioned check's latest record is whichever run ended last)."""
    with warnings.catch_warnings():
        # "Specifying a partitions_def on an AssetCheckSpec" is a preview feature of Dagster 1.13.
        warnings.simplefilter("ignore", dg.PreviewWarning)
        return dg.AssetCheckSpec(
            name, asset=asset, blocking=blocking, description=description, partitions_def=videos_partitions
        )
