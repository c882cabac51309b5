"""Variation of architecture records (``discovery.tasks.Architecture``) for co-evolution.

Mutation changes one field: depth +-1, width x2 or /2, another activation,
normalization or residual toggled, init or output scale times exp(N(0, 0.5)).
Crossover takes each field from either parent. Every child respects the
parameter budget (so "bigger is better" cannot win alone); a child over it is
re-drawn, and after ``max_tries`` the parent is returned unchanged.

Widths stay on the ``WIDTHS`` ladder, so a run meets at most
``len(shapes(budget))`` shapes (one per width: see ``Architecture.slots``),
the only thing that compiles.
"""

from __future__ import annotations

import dataclasses
import math
import random

from discovery.tasks.architecture import MAX_DEPTH, NORMS, Architecture
from discovery.tasks.mlp import ACTIVATIONS

WIDTHS = (8, 16, 32, 64, 128, 256)


def _scaled(value: float, rng: random.Random) -> float:
    return float(f"{min(max(value * math.exp(rng.gauss(0.0, 0.5)), 0.01), 100.0):.3g}")


def _mutations(arch: Architecture, rng: random.Random) -> list[tuple[str, Architecture]]:
    width_up = min(w for w in WIDTHS if w > arch.width) if arch.width < WIDTHS[-1] else arch.width
    width_down = max(w for w in WIDTHS if w < arch.width) if arch.width > WIDTHS[0] else arch.width
    replace = dataclasses.replace
    options = [
        ("depth+1", replace(arch, depth=min(arch.depth + 1, MAX_DEPTH))),
        ("depth-1", replace(arch, depth=max(arch.depth - 1, 0))),
        ("width up", replace(arch, width=width_up)),
        ("width down", replace(arch, width=width_down)),
        ("activation", replace(arch, activation=rng.choice(sorted(set(ACTIVATIONS) - {arch.activation})))),
        ("norm", replace(arch, norm=NORMS[1 - NORMS.index(arch.norm)])),
        ("residual", replace(arch, residual=not arch.residual)),
        ("init scale", replace(arch, init_scale=_scaled(arch.init_scale, rng))),
        ("output scale", replace(arch, output_scale=_scaled(arch.output_scale, rng))),
    ]
    return [(what, child) for what, child in options if child != arch]


def mutate(arch: Architecture, rng: random.Random, budget: int, max_tries: int = 20) -> tuple[Architecture, str]:
    """One field changed, within ``budget`` parameters."""
    for _ in range(max_tries):
        what, child = rng.choice(_mutations(arch, rng))
        if child.n_params() <= budget:
            return child, f"arch {what}: {child.summary()}"
    return arch, "arch no-op"


def crossover(a: Architecture, b: Architecture, rng: random.Random, budget: int,
              max_tries: int = 20) -> tuple[Architecture, str]:
    """Each field from ``a`` or ``b`` with equal odds, within ``budget`` parameters."""
    for _ in range(max_tries):
        fields = {f.name: getattr(rng.choice((a, b)), f.name) for f in dataclasses.fields(Architecture)}
        child = Architecture(**fields)
        if child.n_params() <= budget:
            return child, f"arch crossover: {child.summary()}"
    return a, "arch no-op"


def shapes(budget: int) -> list[tuple[int, int]]:
    """Every shape (``Architecture.shape``: slots, width) a run within ``budget`` parameters can meet:
    one per width on the ladder, plus the network without hidden layers."""
    fitting = {Architecture(depth=d, width=w).shape(budget) for d in range(MAX_DEPTH + 1) for w in WIDTHS
               if Architecture(depth=d, width=w).n_params() <= budget}
    return sorted(fitting)


def random_architecture(rng: random.Random, budget: int) -> Architecture:
    """A varied starting point within ``budget`` parameters."""
    while True:
        arch = Architecture(
            depth=rng.randint(1, 4),
            width=rng.choice(WIDTHS[:5]),
            activation=rng.choice(sorted(ACTIVATIONS)),
            norm=rng.choice(NORMS),
            residual=rng.random() < 0.5,
            init_scale=_scaled(1.0, rng),
            output_scale=1.0,
        )
        if arch.n_params() <= budget:
            return arch
