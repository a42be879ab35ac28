"""Check evaluations a run records only when its asset materialized (issue 24).

Dagster records a planned evaluation, at the start of a run, for every check in the run's plan;
when the asset's step then fails (a broken video), that record stays and resolves as "Execution
failed": the check's latest record, so the header of the check in the UI hid the passes of every
other partition. The embed job therefore plans the assets without their checks, and each asset
step, once its asset is materialized, yields its check's evaluation itself: Dagster records it for
the step's partition as it does a planned one (the Partitions tab, the header), stops the steps
downstream when a blocking check failed, and a step that failed records nothing for the check.
A run that does plan the check (a UI materialization that selects it) gets the usual result.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterator
from typing import Any

import dagster as dg


def with_unplanned_checks(
    compute: Callable[..., dg.MaterializeResult], spec: dg.AssetCheckSpec
) -> Callable[..., Iterator[Any]]:
    """`compute` (returns its asset's MaterializeResult with the check's result) as a step that
    records the check's evaluation itself when the run did not plan the check."""

    @functools.wraps(compute)  # Dagster reads the parameters (context, resources) through this
    def step(context: dg.AssetExecutionContext, *args: Any, **kwargs: Any) -> Iterator[Any]:
        if spec.asset_key not in context.selected_asset_keys:
            raise dg.Failure(
                description=f"{spec.name} is evaluated by {spec.asset_key.to_user_string()}'s step: "
                f"materialize {spec.asset_key.to_user_string()} to run it."
            )
        result = compute(context, *args, **kwargs)
        if spec.key in context.selected_asset_check_keys:
            yield result  # planned: Dagster records the result as usual
            return
        yield dg.MaterializeResult(
            asset_key=result.asset_key,
            metadata=result.metadata,
            data_version=result.data_version,
            tags=result.tags,
            value=result.value,
        )
        # Dagster's own conversion, run now that the materialization is stored: the evaluation
        # is for the step's partition, blocking as the spec says, and targets this
        # materialization (what makes it the partition's current status in the UI).
        step_context = context.get_step_execution_context()
        for check in result.check_results:
            yield check.to_asset_check_evaluation(step_context)

    return step
