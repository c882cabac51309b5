"""The architecture's rules of the house: imports flow one way between layers, no cycles.

Every ``import`` in ``dsl/`` and ``discovery/`` (including imports inside
functions) is read with ``ast``; a module may import its own package, or a
package of a lower layer, never a higher one nor a sibling of its own layer.
See ARCHITECTURE.md for the map.
"""

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]

# Lowest first. Packages on one line are siblings: neither may import the other.
LAYERS = [
    ["dsl"],
    ["discovery.codec"],
    ["discovery.tasks"],
    ["discovery.training"],
    ["discovery.config", "discovery.records"],
    ["discovery.evolution", "discovery.evaluation"],
    ["discovery.runs"],
    ["discovery.analysis"],
    ["discovery.experiments"],
    ["discovery.cli", "discovery.api"],
]
LEVEL = {package: level for level, packages in enumerate(LAYERS) for package in packages}


def package_of(module: str) -> str | None:
    """The layer package a dotted module name belongs to (longest match), or None."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        if ".".join(parts[:n]) in LEVEL:
            return ".".join(parts[:n])
    return None


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(path: Path) -> list[tuple[str, int]]:
    """(imported module, line) for every import in the file, relative ones resolved."""
    tree = ast.parse(path.read_text())
    here = module_name(path).split(".")
    if path.name != "__init__.py":
        here = here[:-1]
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(alias.name, node.lineno) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = here[: len(here) - node.level + 1] if node.level else []
            module = ".".join([*base, *([node.module] if node.module else [])])
            found += [(f"{module}.{alias.name}", node.lineno) for alias in node.names]
    return found


def sources() -> list[Path]:
    return sorted(p for top in ("dsl", "discovery") for p in (ROOT / top).rglob("*.py"))


def violations() -> list[str]:
    bad = []
    for path in sources():
        source = package_of(module_name(path))
        if source is None:  # discovery/__init__.py: the lazy facade over the top layers
            continue
        for target_module, line in imports(path):
            target = package_of(target_module)
            if target is None or target == source:
                continue
            if LEVEL[target] >= LEVEL[source]:
                kind = "sibling" if LEVEL[target] == LEVEL[source] else "upward"
                bad.append(f"{path.relative_to(ROOT)}:{line}: {kind} import of {target_module} "
                           f"({source} is layer {LEVEL[source]}, {target} layer {LEVEL[target]})")
    return bad


def test_every_module_belongs_to_a_layer():
    orphans = [str(p.relative_to(ROOT)) for p in sources()
               if package_of(module_name(p)) is None and p != ROOT / "discovery" / "__init__.py"]
    assert orphans == []


def test_imports_flow_down_the_layers():
    assert violations() == []


def test_the_checker_catches_an_upward_import(tmp_path, monkeypatch):
    fake = ROOT / "discovery" / "training" / "_upward_probe.py"
    monkeypatch.setattr(sys.modules[__name__], "sources", lambda: [fake])
    fake.write_text("from discovery.runs import launch\n")
    try:
        [message] = violations()
    finally:
        fake.unlink()
    assert "upward import of discovery.runs.launch" in message and "_upward_probe.py:1" in message


@pytest.mark.parametrize("module, forbidden", [
    ("discovery.tasks", ("deap", "ray", "discovery.runs", "discovery.evaluation", "matplotlib")),
    ("discovery.config", ("deap", "ray", "discovery.runs", "discovery.evaluation")),
])
def test_lower_layers_import_light(module, forbidden):
    code = (f"import sys, {module}; "
            f"print(sorted(m for m in sys.modules if m.startswith({forbidden!r})))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                         check=True).stdout.strip()
    assert out == "[]"
