"""The one partitioning of the graph: a dynamic partition per video (or batch of videos)."""

import dagster as dg

videos_partitions = dg.DynamicPartitionsDefinition(name="videos")
