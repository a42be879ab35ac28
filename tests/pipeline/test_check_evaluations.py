"""The asset checks a run records (issue 24), on two tiny partitioned assets built like the pipeline's.

A job that plans its assets without their checks (the embed job) must record no evaluation for a
partition whose asset step failed, record each materialized partition's evaluation targeting that
materialization, and still stop the steps downstream of a failed blocking check; a job that plans
the checks (a UI materialization) gets Dagster's usual results; a check selected alone says to
materialize its asset.
"""

from collections.abc import Iterator

import dagster as dg
import pytest

from video_assets.orchestration.assets.metadata import checked_result
from video_assets.orchestration.assets.partitions import partitioned_asset, videos_partitions

UPSTREAM = dg.AssetCheckKey(dg.AssetKey("upstream"), "upstream_ok")
DOWNSTREAM = dg.AssetCheckKey(dg.AssetKey("downstream"), "downstream_ok")
CHECK_EVALUATION = dg.DagsterEventType.ASSET_CHECK_EVALUATION
METADATA = {"dagster/column_schema": dg.TableSchema(columns=[dg.TableColumn("n", "int")])}


@partitioned_asset(
    "upstream", "test", check="upstream_ok", check_description="never empty", blocking=True,
    description="Fails on a partition named broken-*, has a problem on one named bad-*.", metadata=METADATA,
)  # fmt: skip
def upstream(context: dg.AssetExecutionContext):
    if context.partition_key.startswith("broken"):
        raise dg.Failure(description=f"{context.partition_key} could not be read")
    problems = ["no rows"] if context.partition_key.startswith("bad") else []
    return checked_result([1, 2], "upstream_ok", problems, 2, {})


@partitioned_asset(
    "downstream", "test", check="downstream_ok", check_description="as many rows", blocking=False,
    description="Counts upstream's rows.", metadata=METADATA, deps=[upstream],
)  # fmt: skip
def downstream(context: dg.AssetExecutionContext):
    return checked_result(2, "downstream_ok", [], 1, {})


ASSETS = dg.AssetSelection.assets(upstream, downstream)
DEFS = dg.Definitions(
    assets=[upstream, downstream],
    jobs=[
        dg.define_asset_job("unplanned", selection=ASSETS.without_checks()),
        dg.define_asset_job("planned", selection=ASSETS),
        dg.define_asset_job("check_alone", selection=dg.AssetSelection.checks(UPSTREAM)),
    ],
)


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as instance:
        instance.add_dynamic_partitions(videos_partitions.name, ["good-1", "good-2", "bad-1", "broken-1"])
        yield instance


def run(instance: dg.DagsterInstance, job: str, partition: str) -> dg.ExecuteInProcessResult:
    return DEFS.resolve_job_def(job).execute_in_process(
        instance=instance, partition_key=partition, raise_on_error=False
    )


def records(instance: dg.DagsterInstance, key: dg.AssetCheckKey) -> dict[str | None, str]:
    history = instance.event_log_storage.get_asset_check_execution_history(key, limit=20)
    return {r.partition: r.status.value for r in history}


def test_a_failed_step_records_no_evaluation_and_the_latest_stays_a_real_one(instance) -> None:
    for partition in ("good-1", "good-2", "broken-1"):
        assert run(instance, "unplanned", partition).success == (partition != "broken-1")
    for key in (UPSTREAM, DOWNSTREAM):
        assert records(instance, key) == {"good-1": "SUCCEEDED", "good-2": "SUCCEEDED"}
        (latest,) = instance.event_log_storage.get_latest_asset_check_execution_by_key([key]).values()
        assert latest.partition == "good-2" and latest.status.value == "SUCCEEDED"
        # It targets its partition's materialization: what makes it that partition's current status.
        (materialization,) = instance.fetch_materializations(
            dg.AssetRecordsFilter(asset_key=key.asset_key, asset_partitions=["good-2"]), limit=1
        ).records
        assert latest.evaluation.target_materialization_data.storage_id == materialization.storage_id


@pytest.mark.parametrize("job", ["unplanned", "planned"])
def test_a_failed_blocking_check_stops_the_steps_downstream(instance, job: str) -> None:
    result = run(instance, job, "bad-1")
    assert not result.success
    (failure,) = result.get_step_failure_events()
    assert failure.step_key == "upstream" and "blocking asset check" in failure.step_failure_data.error.message
    assert [e.asset_key for e in result.get_asset_materialization_events()] == [dg.AssetKey("upstream")]
    evaluations = [e.event_specific_data for e in result.all_events if e.event_type == CHECK_EVALUATION]
    (evaluation,) = evaluations
    assert not evaluation.passed and evaluation.metadata["problems"].value == ["no rows"]
    assert records(instance, UPSTREAM) == {"bad-1": "FAILED"}
    # The skipped step's check: nothing, unless the run planned it (then "Execution failed").
    assert records(instance, DOWNSTREAM) == ({} if job == "unplanned" else {"bad-1": "PLANNED"})


def test_a_run_that_plans_the_checks_records_them_as_dagster_does(instance) -> None:
    assert run(instance, "planned", "good-1").success
    assert records(instance, UPSTREAM) == records(instance, DOWNSTREAM) == {"good-1": "SUCCEEDED"}
    assert not run(instance, "planned", "broken-1").success
    # Planned, then its step failed: Dagster's own record (only runs that select the checks).
    assert records(instance, UPSTREAM)["broken-1"] == "PLANNED"


def test_a_check_selected_alone_says_to_materialize_its_asset(instance) -> None:
    # The partition as a run tag: `partition_key` needs an asset to take the partitioning from.
    job = DEFS.resolve_job_def("check_alone")
    result = job.execute_in_process(instance=instance, tags={"dagster/partition": "good-1"}, raise_on_error=False)
    (failure,) = result.get_step_failure_events()
    description = failure.step_failure_data.user_failure_data.description
    assert description == "upstream_ok is evaluated by upstream's step: materialize upstream to run it."
