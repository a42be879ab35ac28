"""A trivial partitioned asset: what a run costs when the work is nothing.

Loaded by the benchmark in-process and, as a code location, by the daemon's run
workers. No ``from __future__ import annotations`` here: Dagster reads the
``context`` annotation at definition time and rejects a string.
"""

import dagster as dg

NOOP_PARTITIONS = dg.DynamicPartitionsDefinition(name="noop")


@dg.asset(partitions_def=NOOP_PARTITIONS)
def noop(context: dg.AssetExecutionContext) -> dg.MaterializeResult:
    return dg.MaterializeResult(metadata={"partition": context.partition_key})


NOOP_JOB = dg.define_asset_job("noop_job", selection=[noop], partitions_def=NOOP_PARTITIONS)
defs = dg.Definitions(assets=[noop], jobs=[NOOP_JOB])
