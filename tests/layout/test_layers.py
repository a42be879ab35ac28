"""The package's shape: layers that import only downwards, no cycles, no private names across modules,
small functions, and a package root a reader can take in at a glance."""

from __future__ import annotations

import ast

from tests.layout.import_graph import LAYERS, PACKAGE, SIBLINGS, Import, cycles, graph, layer_of, modules

MAX_ROOT_ENTRIES = 12
MAX_FUNCTION_LINES = 80


def test_every_top_level_package_has_a_layer() -> None:
    tops = {layer_of(m) for m in modules()} - {None}
    assert tops <= set(LAYERS), f"packages without a layer in tests/layout/import_graph.py: {tops - set(LAYERS)}"


def _upward(edge: Import) -> str | None:
    src, dst = layer_of(edge.source), layer_of(edge.target)
    if src is None or dst is None or src == dst:
        return None
    if dst == "definitions":
        return "imports the code location (it builds a graph on import): use orchestration.definitions"
    if LAYERS[dst] > LAYERS[src]:
        return f"layer {src} ({LAYERS[src]}) imports {dst} ({LAYERS[dst]})"
    if src in SIBLINGS and dst in SIBLINGS:
        return f"library {src} imports library {dst}"
    return None


def test_no_upward_import_between_layers() -> None:
    bad = [f"{e.source}:{e.line} -> {e.target}: {why}" for e in graph() if (why := _upward(e))]
    assert not bad, "imports against the layers:\n" + "\n".join(bad)


def test_no_import_cycle() -> None:
    found = cycles(graph())
    assert not found, "import cycles (function-level imports count):\n" + "\n".join(" <-> ".join(c) for c in found)


def test_no_private_name_imported_from_another_module() -> None:
    bad = [
        f"{e.source}:{e.line} imports {name} from {e.target}"
        for e in graph()
        for name in e.names
        if name.startswith("_") and not name.startswith("__")
    ]
    assert not bad, "\n".join(bad)


def test_command_modules_do_not_import_the_cli_package() -> None:
    bad = [f"{e.source}:{e.line}" for e in graph() if e.target == "video_assets.cli" and e.source != "video_assets.cli"]
    assert not bad, f"import video_assets.cli.common (or a command module), not the package: {bad}"


def test_package_root_is_small() -> None:
    entries = sorted(p.name for p in PACKAGE.iterdir() if p.name != "__pycache__")
    assert len(entries) <= MAX_ROOT_ENTRIES, entries


def test_no_function_over_the_limit() -> None:
    long = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > MAX_FUNCTION_LINES:
                    long.append(f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {node.name} ({lines} lines)")
    assert not long, "\n".join(long)


def test_cycle_finder_finds_a_cycle() -> None:
    edges = [Import("a", "b", (), 1), Import("b", "c", (), 1), Import("c", "a", (), 1), Import("c", "d", (), 1)]
    assert cycles(edges) == [["a", "b", "c"]]


def test_only_the_dagster_layers_import_dagster() -> None:
    """The libraries, the catalog, the stages and curation run without an orchestrator."""
    plain = {name for name, layer in LAYERS.items() if layer < LAYERS["orchestration"]}
    bad = []
    for name, path in modules().items():
        if layer_of(name) not in plain:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            bad += [f"{name}:{node.lineno} imports {n}" for n in names if n.split(".")[0].startswith("dagster")]
    assert not bad, "\n".join(bad)


LAYOUT_NAMES = {"assets", "curation", "exports", "clips", "lancedb", "models", "registry.sqlite", "settings.json"}


def test_the_data_layout_is_spelled_only_in_data_paths() -> None:
    """`<data>/assets`, `<data>/registry.sqlite`, ...: one module says where things live (settings/data_paths.py)."""
    bad = []
    for name, path in modules().items():
        if name == "video_assets.settings.data_paths":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if (
                isinstance(node, ast.BinOp)
                and isinstance(node.op, ast.Div)
                and isinstance(node.right, ast.Constant)
                and node.right.value in LAYOUT_NAMES
            ):
                bad.append(f"{name}:{node.lineno} / {node.right.value!r}")
    assert not bad, "use DataPaths instead:\n" + "\n".join(bad)


def test_the_console_script_names_a_function_that_exists() -> None:
    import importlib

    import tomllib

    scripts = tomllib.loads((PACKAGE.parent / "pyproject.toml").read_text())["project"]["scripts"]
    module, _, function = scripts["video-assets"].partition(":")
    assert callable(getattr(importlib.import_module(module), function))
