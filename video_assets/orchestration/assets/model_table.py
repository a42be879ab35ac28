"""The `@dg.asset` of an unpartitioned per-model asset that reads the model's whole clip table.

`<model>_duplicates`, `<model>_export` and `<model>_clip_index_optimized` are made this way:
named `<model>_<suffix>`, in the model's group, and downstream of the partitioned
`<model>_clip_index` through `deps=` only, so a run never loads a partition (it reads the
table at one version).
"""

from collections.abc import Callable, Sequence
from typing import Any

import dagster as dg


def model_table_asset(
    model: str, suffix: str, *, also_after: Sequence[str] = (), **asset_args: Any
) -> Callable[[Callable[..., Any]], dg.AssetsDefinition]:
    """`dg.asset` for `<model>_<suffix>` downstream of `<model>_clip_index` and of `<model>_<s>` for each
    `s` in `also_after`; `asset_args` (kinds, code_version, description, ...) go to `dg.asset` as given."""
    return dg.asset(
        name=f"{model}_{suffix}",
        group_name=model,
        deps=[dg.AssetKey(f"{model}_{upstream}") for upstream in ("clip_index", *also_after)],
        **asset_args,
    )
