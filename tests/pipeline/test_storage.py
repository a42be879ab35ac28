"""Per-partition Parquet storage: atomic writes and the IO manager's one/many-partition loads."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import dagster as dg
import pyarrow as pa
import pytest

from video_assets.orchestration.resources.storage import PartitionedParquetIOManager, part_path
from video_assets.stages import parquet_parts
from video_assets.stages.parquet_parts import ParquetPart, StreamingParquetWriter, write_table_atomic

SCHEMA = pa.schema([("clip_id", pa.string()), ("value", pa.int64())])


def _table(*values: int) -> pa.Table:
    return pa.table({"clip_id": [f"c{v}" for v in values], "value": list(values)}, schema=SCHEMA)


def test_streaming_writer_commits_row_groups_and_a_failure_keeps_the_last_good_file(tmp_path: Path) -> None:
    path = tmp_path / "frames" / "p1.parquet"
    with StreamingParquetWriter(path, SCHEMA) as writer:
        writer.write(_table(1, 2))
        writer.write(_table(3))
        assert not path.exists()  # nothing visible before the commit
        assert writer.commit() == path
    part = ParquetPart(path, "p1")
    assert part.num_rows == 3
    assert [g.column("value").to_pylist() for g in part.iter_row_groups()] == [[1, 2], [3]]

    with pytest.raises(RuntimeError, match="decoder died"):
        with StreamingParquetWriter(path, SCHEMA) as writer:
            writer.write(_table(7, 8, 9))
            raise RuntimeError("decoder died")
    with pytest.raises(pa.ArrowInvalid):
        with StreamingParquetWriter(path, SCHEMA) as writer:
            writer.write(pa.table({"clip_id": ["c1"], "value": ["not a number"]}))  # cast fails
    assert part.read().equals(_table(1, 2, 3))
    assert sorted(p.name for p in path.parent.iterdir()) == ["p1.parquet"]  # no temp files left


def test_write_table_atomic_replaces_whole_files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "clips" / "p.parquet"
    write_table_atomic(_table(1), path)
    write_table_atomic(_table(2, 3), path)
    assert ParquetPart(path, "p").read().equals(_table(2, 3))

    def disk_full(table: pa.Table, where: object, **kwargs: object) -> None:
        Path(str(where)).write_bytes(b"PAR1 half a file")  # the crash comes mid-write
        raise OSError("No space left on device")

    monkeypatch.setattr(parquet_parts.pq, "write_table", disk_full)
    with pytest.raises(OSError, match="No space"):
        write_table_atomic(_table(4), path)
    monkeypatch.undo()
    assert ParquetPart(path, "p").read().equals(_table(2, 3))
    assert sorted(p.name for p in path.parent.iterdir()) == ["p.parquet"]


def test_io_manager_handles_tables_parts_and_wrong_outputs(tmp_path: Path) -> None:
    manager = PartitionedParquetIOManager(base_dir=str(tmp_path))
    key = dg.AssetKey("clips")
    manager.handle_output(dg.build_output_context(asset_key=key, partition_key="v1"), _table(1, 2))
    assert ParquetPart(tmp_path / "clips" / "v1.parquet", "v1").read().equals(_table(1, 2))

    streamed = part_path(tmp_path, key, "v2")
    write_table_atomic(_table(3), streamed)
    manager.handle_output(dg.build_output_context(asset_key=key, partition_key="v2"), ParquetPart(streamed, "v2"))
    elsewhere = tmp_path / "other.parquet"
    with pytest.raises(ValueError, match="expected"):
        manager.handle_output(dg.build_output_context(asset_key=key, partition_key="v2"), ParquetPart(elsewhere, "v2"))
    with pytest.raises(TypeError, match="pyarrow.Table or ParquetPart"):
        manager.handle_output(dg.build_output_context(asset_key=key, partition_key="v3"), [1, 2])

    loaded = manager.load_input(dg.build_input_context(asset_key=key, partition_key="v1"))
    assert isinstance(loaded, ParquetPart) and loaded.read().equals(_table(1, 2))
    with pytest.raises(FileNotFoundError, match="'v9'.*materialize it first"):
        manager.load_input(dg.build_input_context(asset_key=key, partition_key="v9"))


# A small graph of our IO manager's real use: partitioned producer, one- and many-partition readers.
numbers_partitions = dg.DynamicPartitionsDefinition(name="numbers")


@dg.asset(partitions_def=numbers_partitions)
def numbers(context) -> pa.Table:  # noqa: ANN001 (dagster cannot read a string context annotation)
    n = int(context.partition_key.removeprefix("n"))
    return _table(*range(n))


@dg.asset(partitions_def=numbers_partitions)
def doubled(numbers: ParquetPart) -> pa.Table:
    values = numbers.read().column("value").to_pylist()
    return _table(*(2 * v for v in values))


@dg.asset
def totals(numbers: dict[str, ParquetPart]) -> pa.Table:
    keys = sorted(numbers)
    return pa.table({"partition": keys, "rows": [numbers[k].num_rows for k in keys]})


@pytest.fixture
def instance() -> Iterator[dg.DagsterInstance]:
    with dg.instance_for_test() as inst:
        yield inst


def test_downstream_assets_get_one_part_or_a_dict_of_parts(tmp_path: Path, instance: dg.DagsterInstance) -> None:
    resources = {"io_manager": PartitionedParquetIOManager(base_dir=str(tmp_path))}
    instance.add_dynamic_partitions("numbers", ["n2"])
    assert dg.materialize([numbers, doubled], partition_key="n2", instance=instance, resources=resources).success
    assert ParquetPart(tmp_path / "doubled" / "n2.parquet", "n2").read().equals(_table(0, 2))

    # One partition upstream, and still a dict: the annotation decides, not the count.
    run = dg.materialize([numbers.to_source_asset(), totals], instance=instance, resources=resources)
    assert run.success
    assert ParquetPart(tmp_path / "totals.parquet", None).read().to_pylist() == [{"partition": "n2", "rows": 2}]

    instance.add_dynamic_partitions("numbers", ["n3", "n5"])
    for key in ("n3", "n5"):
        assert dg.materialize([numbers], partition_key=key, instance=instance, resources=resources).success
    run = dg.materialize([numbers.to_source_asset(), totals], instance=instance, resources=resources)
    assert run.success
    assert ParquetPart(tmp_path / "totals.parquet", None).read().to_pylist() == [
        {"partition": "n2", "rows": 2},
        {"partition": "n3", "rows": 3},
        {"partition": "n5", "rows": 5},
    ]
