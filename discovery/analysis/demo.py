"""A short demonstration: every library rule, compiled both ways, trained on small tasks."""

from __future__ import annotations

import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dsl
from discovery import tasks
from discovery.training import scoring, tuning


def _agreement(rule: dsl.Rule, steps: int = 20) -> float:
    """Relative difference of native vs interpreter parameters after ``steps`` updates."""
    params = {"w": jnp.linspace(-1.0, 1.0, 12).reshape(3, 4), "b": jnp.ones(4)}
    loss = lambda p: jnp.sum(jnp.sin(p["w"]) ** 2) + jnp.sum((p["b"] - 0.5) ** 2)
    results = []
    for opt in (dsl.to_optax(rule, 1e-2), dsl.interpreter(dsl.encode(rule), 1e-2)):
        p, s = params, opt.init(params)
        for _ in range(steps):
            u, s = opt.update(jax.grad(loss)(p), s, p)
            p = optax.apply_updates(p, u)
        results.append(np.concatenate([np.ravel(x) for x in jax.tree.leaves(p)]))
    return float(np.linalg.norm(results[0] - results[1]) / np.linalg.norm(results[1]))


def demo(steps: int = 200) -> None:
    print("Library rules (native compiler vs interpreter, 20 steps):")
    for name in dsl.library.names():
        rule = dsl.library.get(name)
        print(f"  {name:10} state={','.join(rule.state) or '-':5} rel. diff {_agreement(rule):.1e}")
    protocol = scoring.Protocol(steps=steps)
    for task_name in ("mf_k4", "mnist1d_mlp"):
        task = tasks.get(task_name, "small")
        print(f"\n{task_name} (small, {steps} steps, {len(protocol.learning_rates)} lrs x "
              f"{len(protocol.seeds)} seeds): tuned score, lr, seconds")
        for name in ("adam", "lion", "signum", "momentum", "sgd"):
            start = time.perf_counter()
            with dsl.count_compilations() as compiles:
                s = tuning.tune(dsl.library.get(name), task, protocol).score
            print(f"  {name:10} {s.tuned:10.4g} at lr {s.tuned_lr:<8g} "
                  f"{time.perf_counter() - start:5.2f}s  ({compiles.count} compilations)")
