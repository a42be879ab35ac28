"""What the Dagster UI shows for an asset's checks, asked of the same GraphQL schema the UI asks,
against a real instance, without starting a webserver: a code server loads video_assets.definitions
(from VIDEO_ASSETS_SETTINGS) and `execute_dagster_graphql` answers in this process."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import dagster as dg
import pytest
from dagster_graphql.test.utils import define_out_of_process_context, execute_dagster_graphql

if TYPE_CHECKING:
    from dagster._core.workspace.context import WorkspaceRequestContext

# The fields the asset page's Checks tab and the check's own page read: the header's status is
# `executionForLatestMaterialization.status` (EXECUTION_FAILED reads "Execution failed"), and the
# Partitions tab (and the aggregate status of a partitioned check) come from `partitionStatuses`.
CHECKS_QUERY = """
query ($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      assetChecksOrError {
        ... on AssetChecks {
          checks {
            name
            executionForLatestMaterialization { status partition runId }
            partitionStatuses {
              ... on AssetCheckDefaultPartitionStatuses {
                succeededPartitions failedPartitions executionFailedPartitions skippedPartitions inProgressPartitions
              }
            }
          }
        }
      }
    }
  }
}
"""


@contextmanager
def ui_graphql(instance: dg.DagsterInstance, settings_path: Path, tmp: Path) -> Iterator[WorkspaceRequestContext]:
    """A GraphQL request context on `instance` for the definitions built from `settings_path`."""
    workspace = tmp / "workspace.yaml"
    workspace.write_text("load_from:\n  - python_module: video_assets.definitions\n")
    with pytest.MonkeyPatch.context() as env:
        env.setenv("VIDEO_ASSETS_SETTINGS", str(settings_path))
        with define_out_of_process_context(str(workspace), None, instance) as context, context:
            # Entered as the webserver enters each request's context: it loads dynamic partitions.
            yield context


def check_states(context: WorkspaceRequestContext, asset: str) -> dict[str, dict]:
    """check name -> {"latest": header status or None, "partition": its partition, "partitions": statuses}."""
    result = execute_dagster_graphql(context, CHECKS_QUERY, variables={"key": {"path": [asset]}})
    checks = result.data["assetNodeOrError"]["assetChecksOrError"]["checks"]
    states = {}
    for item in checks:
        latest = item["executionForLatestMaterialization"] or {}
        states[item["name"]] = {
            "latest": latest.get("status"),
            "partition": latest.get("partition"),
            "partitions": item["partitionStatuses"],
        }
    return states
