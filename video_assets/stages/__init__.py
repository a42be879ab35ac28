"""Per-partition work as plain functions (no Dagster): the asset bodies call these."""
