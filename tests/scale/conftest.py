"""The temp Dagster home the pipeline tests use, for the `run` commands here."""

from tests.pipeline.conftest import dagster_home  # noqa: F401  (a fixture, found by name)
