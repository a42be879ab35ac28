"""Where the heavy steps run: in the Dagster step's own process (local) or on a Ray cluster (ray).

Plain modules, no dagster import: `resources/execution.py` is the thin Dagster side.
"""
