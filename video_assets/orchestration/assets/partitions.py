"""The one partitioning of the graph: a dynamic partition per video (or batch of videos), and the
decorator of the assets partitioned by it."""

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
        check_specs=[dg.AssetCheckSpec(check, asset=name, blocking=blocking, description=check_description)],
        **asset_args,
    )
