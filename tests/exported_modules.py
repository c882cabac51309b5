"""Exported optimizer modules run in a fresh Python process on fixed gradients.

``run_fresh(folder, data, cases)`` imports ``NAME`` from ``folder/NAME.py`` for
each case ``"NAME:KIND"`` in a new process (``python -m tests.exported_modules``)
and returns its update trajectories; compare each with
``trajectory(build(dsl.optimizer_factory(rule), KIND), data)`` computed here.
This module does not import ``dsl``.
"""

from __future__ import annotations

import ast
import importlib
import subprocess
import sys
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import optax

ROOT = Path(__file__).resolve().parents[1]
SHAPES = [(3, 4), (5,), ()]
KINDS = ("plain", "chain", "inject")


def inputs(steps: int = 20, seed: int = 0) -> dict[str, np.ndarray]:
    """Parameters ``p{leaf}`` and gradients ``g{step}_{leaf}`` (float32, magnitudes over decades)."""
    rng = np.random.default_rng(seed)
    data = {"steps": np.asarray(steps)}
    data |= {f"p{j}": rng.normal(size=s).astype(np.float32) for j, s in enumerate(SHAPES)}
    for i in range(steps):
        for j, s in enumerate(SHAPES):
            data[f"g{i}_{j}"] = (rng.normal(size=s) * np.exp(rng.uniform(-3, 1, size=s))).astype(np.float32)
    return data


def build(factory, kind: str) -> optax.GradientTransformation:
    """``factory(0.01)``, in a chain after clipping, or under ``inject_hyperparams`` (b1=0.8)."""
    if kind == "chain":
        return optax.chain(optax.clip_by_global_norm(1.0), factory(0.01))
    if kind == "inject":
        return optax.inject_hyperparams(factory)(learning_rate=0.02, b1=0.8)
    return factory(0.01)


def trajectory(opt: optax.GradientTransformation, data) -> np.ndarray:
    """All updates of ``int(data['steps'])`` steps on a three-leaf pytree, flattened."""
    tree = lambda k: {"w": data[k + "0"], "b": [data[k + "1"], data[k + "2"]]}
    params, out = jax.tree.map(jnp.asarray, tree("p")), []
    state = opt.init(params)
    for i in range(int(data["steps"])):
        updates, state = opt.update(tree(f"g{i}_"), state, params)
        params = optax.apply_updates(params, updates)
        out += [np.ravel(u) for u in jax.tree.leaves(updates)]
    return np.concatenate(out)


def run_fresh(folder: Path, data: dict, cases: list[str]) -> dict[str, np.ndarray]:
    """Trajectories of the exported modules in ``folder``, each run in one new process."""
    np.savez(folder / "inputs.npz", **data)
    subprocess.run([sys.executable, "-m", "tests.exported_modules", str(folder), *cases],
                   check=True, timeout=120, cwd=ROOT)
    return dict(np.load(folder / "outputs.npz"))


def imported_modules(path: Path) -> set[str]:
    """Top-level names of the modules a source file imports."""
    tree = ast.parse(path.read_text())
    names = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
    return names | {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}


if __name__ == "__main__":
    folder, *cases = sys.argv[1:]
    sys.path.insert(0, folder)
    data = dict(np.load(Path(folder) / "inputs.npz"))
    results = {}
    for case in cases:
        name, kind = case.split(":")
        results[case] = trajectory(build(getattr(importlib.import_module(name), name), kind), data)
    np.savez(Path(folder) / "outputs.npz", **results)
