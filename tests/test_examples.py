"""The examples run: the README's quick start (kept equal to examples/quickstart.py), the
example notebook (executed with nbclient), and the hypothesis check's tiny preset."""

import importlib.util
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from discovery.experiments import adam_hypothesis
from tests.exported_modules import imported_modules

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = ROOT / "examples"


def _env() -> dict[str, str]:
    """This process's environment (the shared compilation cache, XLA flags), this checkout first."""
    return {**os.environ, "JAX_PLATFORMS": "cpu",
            "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])])}


def readme_example() -> str:
    text = (ROOT / "README.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, flags=re.S)
    assert blocks, "the README has no python example"
    return blocks[0]


def test_the_readme_example_is_the_quickstart_file_and_short():
    code = readme_example()
    assert code == (EXAMPLES / "quickstart.py").read_text()
    assert len(code.splitlines()) <= 20
    readme = (ROOT / "README.md").read_text().splitlines()
    assert len(readme) <= 250
    assert any("```python" in line for line in readme[:80]), "the example is not on the first screens"


def test_the_quickstart_searches_inspects_and_exports(tmp_path):
    done = subprocess.run([sys.executable, str(EXAMPLES / "quickstart.py")], cwd=tmp_path, env=_env(),
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    pick = re.search(r"^> .*?recommended: rank (\d+)", done.stdout, flags=re.M)
    assert pick, done.stdout[-3000:]
    module = (tmp_path / "my_optimizer.py").read_text()
    assert f"rank {pick[1]} (the recommended pick)" in " ".join(module.split()) and "def my_optimizer(" in module
    assert imported_modules(tmp_path / "my_optimizer.py") <= {"typing", "jax", "optax", "math"}


def test_the_example_notebook_executes(tmp_path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    notebook = nbformat.read(EXAMPLES / "own_loss.ipynb", as_version=4)
    assert all(not c.get("outputs") for c in notebook.cells if c.cell_type == "code"), "stored outputs"
    nbclient.NotebookClient(notebook, timeout=600, kernel_name="python3",
                            resources={"metadata": {"path": str(tmp_path)}}).execute(env=_env())
    printed = "".join(o.get("text", "") for c in notebook.cells if c.cell_type == "code" for o in c.outputs)
    before, after = map(float, re.search(r"exported optimizer: test loss (\S+) -> (\S+)", printed).groups())
    assert after < 0.5 * before and "recommended rank:" in printed
    assert (tmp_path / "my_optimizer.py").exists()


def test_the_readme_rule_is_adam():
    import numpy as np

    import dsl

    text = re.findall(r"```text\n(.*?)```", (ROOT / "README.md").read_text(), flags=re.S)[0]
    mine, adam = (dsl.to_optax(r, 1e-2) for r in (dsl.parse(text), dsl.library.get("adam")))
    params = {"w": np.linspace(-1.0, 1.0, 7, dtype=np.float32)}
    states = [mine.init(params), adam.init(params)]
    for step in range(5):
        grads = {"w": np.sin(params["w"] * (step + 1)) * 10.0 ** (step - 2)}
        (u, states[0]), (v, states[1]) = mine.update(grads, states[0]), adam.update(grads, states[1])
        np.testing.assert_allclose(u["w"], v["w"], rtol=1e-5, atol=1e-9)


def test_the_hypothesis_check_example_builds_its_tiny_preset():
    spec = importlib.util.spec_from_file_location("hypothesis_check", EXAMPLES / "hypothesis_check.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    preset = module.tiny_preset()
    assert isinstance(preset, adam_hypothesis.Preset) and preset.seeds == 1 and preset.rounds == 1
    assert set(preset.control_panel) <= set(preset.panel)


def test_the_quick_run_page_shows_rank_1_the_pick_and_how_it_was_measured():
    from tests.benchmarks import refresh_quick_run

    rows = [{"rank": k, "search": -0.3 + k / 100, "held_out": 0.5 if k == 1 else -0.4, "held_out_noise": 0.2,
             "complexity": 10 + k, "recommended_lr": 0.01, "text": f"() return g * {k}"} for k in (1, 2)]
    n = {"command": "discovery run --preset quick --seed 0", "commit": "abc1234", "date": "2026-12-06 10:00 UTC",
         "machine": "2 CPU cores", "seconds": 81.4, "compilation": "compiled from an empty persistent cache",
         "seed": 0, "generations": 40, "population": 32, "search_tasks": ["mf_k4"], "held_out_tasks": ["mf_k1"],
         "totals": {"children": 1280, "evaluated": 636}, "distinct_optimizers": 16, "pick": 2,
         "verdict": "> recommended: rank 2", "hall_of_fame": rows}
    page = refresh_quick_run.markdown(n)
    assert "at commit `abc1234`" in page and "| wall time | 81 s; compiled from an empty persistent cache |" in page
    assert "| the pick (rank 2, what `export` gives) | search -0.280, held-out -0.400 ± 0.200" in page
    assert "| rank 1 (best search fitness) | search -0.290, held-out +0.500" in page
    assert "| 2 (pick) | -0.280 |" in page and "`inspect`'s verdict: recommended: rank 2" in page
