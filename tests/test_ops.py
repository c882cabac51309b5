"""The operator table is the one place an operator is defined, and the language's layout."""

from __future__ import annotations

import ast
import graphlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dsl
from dsl import printer
from dsl.expr import Assign, Const, Name, Op
from dsl.ops import OP_NAMES, OPS
from tests.agreement import assert_evaluators_agree

ROOT = Path(__file__).resolve().parents[1]


def uses_twice(name: str) -> dsl.Rule:
    """``op(m, g, p...)`` on arrays plus ``op(h, 0.3, 1.5...) * g`` on constants, m > 0."""
    arity = OPS[name].arity
    on_arrays = Op(name, (Name("m"), Name("g"), Name("p"))[:arity])
    on_constants = Op(name, (Name("h"), Const(0.3), Const(1.5))[:arity])
    m = Assign("m", Op("add", (Op("mul", (Const(0.9), Name("m"))), Op("square", (Name("g"),)))))
    result = Op("add", (on_arrays, Op("mul", (on_constants, Name("g")))))
    return dsl.Rule("uses", (("h", 0.7),), (m,), result)


@pytest.mark.parametrize("name", OP_NAMES)
def test_every_operator_is_read_back_typeset_exported_and_evaluated_alike(name):
    rule = uses_twice(name)
    assert dsl.parse(rule.to_text()) == rule
    latex = rule.to_latex()
    assert latex.count("{") == latex.count("}") and "{0}" not in latex
    assert_evaluators_agree(rule)


def test_operators_are_written_distinctly():
    args = (Name("x"), Name("y"), Name("z"))
    for write in (printer.expr_text, lambda e: printer.rule_latex((), e)):
        written = {write(Op(name, args[: OPS[name].arity])) for name in OPS}
        assert len(written) == len(OPS)


def test_exported_array_code_of_an_operator_is_one_call():
    """The exporter writes it inline as an atom; reductions go through a helper instead."""
    for spec in OPS.values():
        if spec.jnp is not None and not spec.reduction:
            code = spec.jnp.format(*("_" * spec.arity))
            assert isinstance(ast.parse(code, mode="eval").body, ast.Call), spec.name


@pytest.mark.parametrize("module", ["parser", "printer", "python_module"])
def test_parser_printer_and_exporter_name_no_operator(module):
    """They read every operator from the table: no string in them is an operator's name."""
    tree = ast.parse((ROOT / "dsl" / f"{module}.py").read_text())
    strings = {n.value for n in ast.walk(tree) if isinstance(n, ast.Constant) and isinstance(n.value, str)}
    assert not strings & set(OPS)


# One edit of dsl/ops.py: a new function, appended to the table.
SOFTSIGN = (
    '_SPECS.append(_function("softsign", lambda xp, a: a / (xp.abs(a) + 1), '
    '_latex_call(r"\\operatorname{softsign}"), "jax.nn.soft_sign({0})", "{0} / (abs({0}) + 1)"))\n'
)
WITH_SOFTSIGN = r"""
import dsl
from tests.agreement import assert_evaluators_agree
rule = dsl.parse("def r(h=0.7):\n    m = 0.9 * m + g\n    return softsign(m) + softsign(h) * g\n")
assert dsl.parse(rule.to_text()) == rule
assert r"\operatorname{softsign}\left(m\right)" in rule.to_latex()
source = dsl.python_module(rule)
assert "jax.nn.soft_sign(m)" in source and "return x / (abs(x) + 1)" in source
assert_evaluators_agree(rule)
print(dsl.__file__)
"""


def test_a_new_function_is_one_edit_of_the_table(tmp_path):
    shutil.copytree(ROOT / "dsl", tmp_path / "dsl", ignore=shutil.ignore_patterns("__pycache__"))
    ops = tmp_path / "dsl" / "ops.py"
    anchor = "\nOPS: dict[str, OpSpec] = "
    assert anchor in ops.read_text()
    ops.write_text(ops.read_text().replace(anchor, "\n" + SOFTSIGN + anchor))
    env = {**os.environ, "PYTHONPATH": str(ROOT)}  # tests/ from here, dsl/ from the copy (cwd)
    done = subprocess.run([sys.executable, "-c", WITH_SOFTSIGN], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(tmp_path / "dsl" / "__init__.py")


# What the language is without its compilers (native, interpreter, compilation counting).
JAX_FREE = ("errors", "expr", "ops", "rule", "printer", "parser", "semantics", "leaves", "probe", "fingerprint",
            "sums", "value_sets", "simplify", "stress", "prune", "serialize", "template", "library",
            "python_module")
LOADED = """
import importlib, json, sys, types
package = types.ModuleType("dsl")  # dsl/__init__ re-exports the compilers: leave it out
package.__path__ = [sys.argv[1]]
sys.modules["dsl"] = package
for name in sys.argv[2:]:
    importlib.import_module("dsl." + name)
print(json.dumps(sorted(m for m in sys.modules if m.partition(".")[0] in ("dsl", "jax", "optax"))))
"""


def test_the_language_without_its_compilers_imports_no_jax():
    done = subprocess.run([sys.executable, "-c", LOADED, str(ROOT / "dsl"), *JAX_FREE],
                          capture_output=True, text=True, timeout=120, check=True)
    assert json.loads(done.stdout) == sorted(["dsl", *(f"dsl.{name}" for name in JAX_FREE)])


def test_dsl_modules_import_each_other_at_module_level_without_cycles():
    graph = {}
    for path in sorted((ROOT / "dsl").glob("*.py")):
        tree = ast.parse(path.read_text())
        graph[path.stem] = set()
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.level == 1:
                assert node in tree.body, f"dsl/{path.name} imports inside a function or block"
                names = [node.module] if node.module else [a.name for a in node.names]
                graph[path.stem] |= {n.partition(".")[0] for n in names}
    del graph["__init__"]  # the package re-exports its modules
    list(graphlib.TopologicalSorter(graph).static_order())  # raises CycleError
