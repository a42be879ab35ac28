"""What the instance records for the UI when one file of a folder is bad (issue 24).

Two good videos and a text file named .mp4 that sorts last, so its failed run is the
latest: the good partitions' checks still read as passed (the failed partition records no
check evaluation, so the check's header shows the last real one), the index asset's row count
is the table's, and the failed partition says why in one line, with its reason as metadata.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pytest

from tests.pipeline.check_header import check_states, ui_graphql
from tests.pipeline.conftest import settings_for
from tests.pipeline.ui_server import materialize_tiny_videos
from video_assets.app.outcome import RunSummary
from video_assets.catalog.registry import video_id_for
from video_assets.index.connection import connect, open_clip_table
from video_assets.media.synthetic_damaged import make_text_file_as_video
from video_assets.orchestration.assets.qa_job import AskConfig, build_ask_job, text_model_problem
from video_assets.orchestration.definitions import build_definitions
from video_assets.settings.config import Settings

GOOD = ["walk.mp4", "street/run.mp4"]
BROKEN = "zz_notes.mp4"  # sorts last: its run is the latest
CHECKS = {"source_videos": "probe_complete", "clips": "clip_spans_valid", "fingerprint_clip_index": "index_rows_match"}


@pytest.fixture(scope="module")
def ran(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dg.DagsterInstance, RunSummary]]:
    root = tmp_path_factory.mktemp("truth")
    make_text_file_as_video(root / "videos" / BROKEN)
    with pytest.MonkeyPatch.context() as env:
        env.setenv("DAGSTER_HOME", str(root / "dagster_home"))
        (root / "dagster_home").mkdir()
        summary = materialize_tiny_videos(root, GOOD)
        with dg.DagsterInstance.get() as instance:
            yield instance, summary


def test_a_failed_partition_records_no_check_evaluation(ran) -> None:
    instance, summary = ran
    broken = video_id_for(BROKEN)
    assert [p.key for p in summary.partitions if not p.success] == [broken]
    for asset, check in CHECKS.items():
        key = dg.AssetCheckKey(dg.AssetKey(asset), check)
        records = instance.event_log_storage.get_asset_check_execution_history(key, limit=10)
        by_partition = {r.partition: r.status.value for r in records}
        # Each good partition keeps its pass; the failed one has no record at all (not a planned
        # one that its failed run resolves as "Execution failed").
        assert by_partition == {video_id_for(g): "SUCCEEDED" for g in GOOD}, (asset, by_partition)


def test_the_check_header_shows_the_last_real_evaluation(ran, tmp_path: Path) -> None:
    """What the UI reads (asset page > Checks, the check's own page) when the failed run is the latest."""
    instance, summary = ran
    good = sorted(video_id_for(g) for g in GOOD)
    with ui_graphql(instance, summary.settings_path, tmp_path) as context:
        for asset, check in CHECKS.items():
            state = check_states(context, asset)[check]
            assert state["latest"] == "SUCCEEDED" and state["partition"] in good, (asset, state)
            partitions = {k: sorted(v) for k, v in state["partitions"].items()}
            assert partitions == {
                "succeededPartitions": good,
                "failedPartitions": [],
                "executionFailedPartitions": [],
                "skippedPartitions": [],
                "inProgressPartitions": [],
            }, (asset, partitions)


def test_the_index_row_count_is_the_tables_rows(ran) -> None:
    instance, summary = ran
    records = instance.fetch_materializations(dg.AssetKey("fingerprint_clip_index"), limit=10).records
    counts = [r.asset_materialization.metadata["dagster/row_count"].value for r in records]
    per_video = [r.asset_materialization.metadata["rows_for_videos"].value for r in records]
    settings = Settings.model_validate_json(summary.settings_path.read_text())
    table = open_clip_table(connect(settings.paths.lancedb_uri), "fingerprint")
    # Newest first: the latest commit counts every row; each earlier one the rows the table had then.
    assert counts[0] == table.count_rows() == sum(per_video)
    assert counts == [sum(per_video[i:]) for i in range(len(per_video))]
    assert counts[0] > per_video[0]


def test_the_failed_partition_says_why_in_one_line_with_metadata(ran) -> None:
    instance, _ = ran
    broken = video_id_for(BROKEN)
    (run,) = instance.get_runs(dg.RunsFilter(tags={"dagster/partition": broken}))
    failures = [
        e.dagster_event for e in instance.all_logs(run.run_id) if e.dagster_event and e.dagster_event.is_step_failure
    ]
    (failure,) = failures
    data = failure.step_failure_data
    assert data.error.cause is None  # raised `from None`: the UI shows no chained stack
    description = data.user_failure_data.description
    assert "\n" not in description and BROKEN in description and "could be read" in description
    meta = {k: v.value for k, v in data.user_failure_data.metadata.items()}
    assert meta["status"] == "failed" and any(BROKEN in f for f in meta["failures"])
    (row,) = [r.data for r in meta["video_table"].records]
    assert row["path"] == BROKEN and row["status"] == "failed" and row["reason"]
    # The partition's own events carry the reason too (its page links them).
    observed = instance.fetch_observations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("source_videos"), asset_partitions=[broken]), limit=1
    ).records
    (observation,) = [r.asset_observation for r in observed]
    assert observation.description == description and observation.metadata["status"].value == "failed"


def test_a_good_partition_lists_its_videos_with_their_status(ran) -> None:
    _, summary = ran
    (outcome, *_) = [p for p in summary.partitions if p.success]
    (row,) = [r.data for r in outcome.metadata["source_videos"]["video_table"].records]
    assert row["status"] == "probed" and row["reason"] is None


def test_descriptions_render_placeholders(tmp_path: Path) -> None:
    """Markdown swallows `<data>` as an HTML tag: placeholders are written in backticks."""
    defs = build_definitions(settings_for(tmp_path / "in", tmp_path / "data"))
    graph = defs.resolve_asset_graph()
    texts = [graph.get(k).description or "" for k in graph.get_all_asset_keys()]
    texts += [graph.get_check_spec(k).description or "" for k in graph.asset_check_keys]
    texts += [job.description or "" for job in defs.get_repository_def().get_all_jobs()]
    outside_code = [re.sub(r"`[^`]*`", "", text) for text in texts]
    assert not [t for t in outside_code if re.search(r"<[A-Za-z/][^>]*>", t)], outside_code


def test_ask_config_is_described_and_checked_before_a_model_loads(tmp_path: Path) -> None:
    fields = AskConfig.model_fields
    assert all(field.description for field in fields.values()), [n for n, f in fields.items() if not f.description]
    settings = Settings(data_dir=tmp_path / "data", enabled_models=("fingerprint",))  # no text tower
    for problem in (text_model_problem(settings, None), text_model_problem(settings, "nope")):
        assert problem and "--" not in problem and "run config's model" in problem
    config = {"question": "what is it?", "choices": ["a cup", "a phone"]}
    # Its launchpad holds the question's config, not the pipeline resources' settings and docstrings.
    job = build_definitions(settings_for(tmp_path / "in", tmp_path / "data")).resolve_job_def("ask")
    assert set(job.resource_defs) == {"io_manager"}
    with pytest.raises(dg.DagsterInvalidConfigError):  # the launchpad refuses it before the run starts
        build_ask_job(settings).execute_in_process(
            run_config={"ops": {"ask_question": {"config": {**config, "scale": "loud"}}}}
        )
    result = build_ask_job(settings).execute_in_process(
        run_config={"ops": {"ask_question": {"config": config}}}, raise_on_error=False
    )
    (failure,) = result.get_step_failure_events()
    description = failure.step_failure_data.user_failure_data.description
    assert "text tower" in description and "--model" not in description
