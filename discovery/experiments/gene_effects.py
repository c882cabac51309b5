"""What in an architecture favours Adam: gaps to Adam per gene, and a fit over the genes.

From a pool's measurement scores (log10 held-out loss of each panel optimizer ``g`` on
each member ``a``, tuned on training seeds that selected nothing):

* the gap of ``g`` to Adam on ``a``: ``gap_g(a) = T[g][a] - T[adam][a]`` (> 0: Adam is
  better there), and Adam's lead over the panel ``lead(a) = mean_{g != adam} gap_g(a)``;
* per gene and value (``values``: a scale gene in two bins, below its default and from it
  up), the mean gap over the members with that value, with a percentile bootstrap interval
  over the pool's blocks (``ValueGap``);
* a ridge fit of ``lead`` on all the genes at once, ``lead(a) ~ c + sum_j x_j(a) b_j``,
  minimizing ``|lead - c - X b|^2 + RIDGE |b|^2`` (``x_j``: one indicator per value label of
  each gene but its first), and per gene the size of its effect: the range of its fitted
  contributions, ``max(0, b) - min(0, b)`` over its indicators, with a bootstrap interval over
  blocks (``GeneFit``). The genes are ranked by it: the fit separates genes that the pool
  happens to correlate.

Example::

    effects = gene_effects([{"norm": "pre"}, {"norm": "post"}, ...], {"adam": t_a, "sgd": t_s},
                           blocks=np.arange(n), specs=specs_of(TokenArchitecture))
    effects.fit[0].gene   # the gene with the largest effect on Adam's lead
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from discovery.experiments import statistics as st
from discovery.experiments.arms import ADAM

RESAMPLES = 500
# The fit's ridge penalty: as if each coefficient had one more member pulling it to zero. A pool
# has about as many members as the genes have values, so the plain least-squares fit would
# reproduce every base exactly, with coefficients that mean nothing.
RIDGE = 1.0
LEAD = "panel"  # the column of Adam's lead over the rest of the panel
BELOW, ABOVE = "below default", "default or above"  # a scale gene's two bins, in this order


@dataclasses.dataclass(frozen=True)
class ValueGap:
    """Members with ``gene`` at ``value``: how many, and per optimizer (and ``LEAD``) the mean gap
    to Adam with its interval."""

    gene: str
    value: str
    n: int
    gaps: dict[str, st.Effect]

    def to_dict(self) -> dict:
        return {"gene": self.gene, "value": self.value, "n": self.n,
                "gaps": {g: e.to_dict() for g, e in self.gaps.items()}}


@dataclasses.dataclass(frozen=True)
class GeneFit:
    """A gene's effect on Adam's lead in the multivariable fit: the range of its contributions."""

    gene: str
    effect: st.Effect

    def to_dict(self) -> dict:
        return {"gene": self.gene, "effect": self.effect.to_dict()}


@dataclasses.dataclass(frozen=True)
class GeneEffects:
    """Every gene that varies in the pool: gaps per value, and the fit (ranked, largest first)."""

    optimizers: tuple[str, ...]
    rows: tuple[ValueGap, ...]
    fit: tuple[GeneFit, ...]
    r2: float
    members: int
    parameters: int

    @property
    def top_rows(self) -> tuple[ValueGap, ...]:
        """The gaps per value of the gene the fit ranks first (none without a fit)."""
        top = self.fit[0].gene if self.fit else None
        return tuple(r for r in self.rows if r.gene == top)

    def to_dict(self) -> dict:
        return {"optimizers": list(self.optimizers), "rows": [r.to_dict() for r in self.rows],
                "fit": [f.to_dict() for f in self.fit], "r2": self.r2, "members": self.members,
                "parameters": self.parameters}


def specs_of(genes_class: type) -> dict[str, tuple[object, object]]:
    """``{gene: (spec, default)}`` of a ``GenesRecord`` class."""
    return {f.name: (f.metadata["gene"], f.default) for f in dataclasses.fields(genes_class)}


def value_label(value, spec, default) -> str:
    """A gene's value as a table label: a scale gene in two bins around its default."""
    if spec.continuous:
        return BELOW if value < default else ABOVE
    return str(value)


def _columns(genes: Sequence[Mapping], specs: Mapping) -> tuple[np.ndarray, list[tuple[str, list[int]]]]:
    """The design matrix (intercept first) and each varying gene's columns: one indicator per
    value label (``value_label``) but the first."""
    cols, groups = [np.ones(len(genes))], []
    for name, (spec, default) in specs.items():
        labels = [value_label(g[name], spec, default) for g in genes]
        levels = sorted(set(labels))
        if len(levels) < 2:
            continue
        start = len(cols)
        cols += [np.array([float(v == level) for v in labels]) for level in levels[1:]]
        groups.append((name, list(range(start, len(cols)))))
    return np.column_stack(cols), groups


def _fit_effects(x: np.ndarray, y: np.ndarray, groups) -> tuple[np.ndarray, float]:
    """Ridge fit (``RIDGE``; the intercept unpenalized): each gene's effect, and R^2."""
    penalty = RIDGE * np.eye(x.shape[1])
    penalty[0, 0] = 0.0
    coef = np.linalg.solve(x.T @ x + penalty, x.T @ y)
    out = [float(max(0.0, coef[cols].max()) - min(0.0, coef[cols].min())) for _, cols in groups]
    residual = y - x @ coef
    total = float(np.sum((y - y.mean()) ** 2))
    return np.array(out), (1.0 - float(np.sum(residual ** 2)) / total) if total > 0 else 0.0


def _interval(mean: float, draws: np.ndarray, values: tuple[float, ...], method: str) -> st.Effect:
    alpha = (1 - st.CONFIDENCE) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha]) if len(draws) else (np.nan, np.nan)
    return st.Effect(mean, float(low), float(high), values, method)


def gene_effects(genes: Sequence[Mapping], scores: Mapping[str, np.ndarray], blocks: np.ndarray,
                 specs: Mapping, resamples: int = RESAMPLES, seed: int = 0) -> GeneEffects:
    """Gaps to Adam per gene value and the fit over genes (module doc). ``genes``: each member's
    genes; ``scores[g]``: measurement scores per member (``"adam"`` among them); ``blocks``: the
    resampling unit of each member; ``specs``: each gene's spec and default (``specs_of``)."""
    if ADAM not in scores:
        raise ValueError(f"gene effects are gaps to Adam: the panel needs {ADAM}")
    others = [g for g in scores if g != ADAM]
    gaps = {g: np.asarray(scores[g]) - np.asarray(scores[ADAM]) for g in others}
    gaps[LEAD] = np.mean([gaps[g] for g in others], axis=0)
    rng = np.random.default_rng(seed)
    ids = np.unique(blocks)
    samples = [np.concatenate([np.flatnonzero(blocks == b) for b in ids[rng.integers(0, len(ids), len(ids))]])
               for _ in range(resamples)]
    method = f"percentile bootstrap over {len(ids)} blocks, {resamples} resamples"
    rows = []
    for name, (spec, default) in specs.items():
        labels = np.array([value_label(g[name], spec, default) for g in genes])
        if len(set(labels)) < 2:
            continue
        for label in sorted(set(labels), key=lambda v: (v != BELOW, v)):
            mask = labels == label
            effects = {}
            for g, gap in gaps.items():
                draws = np.array([gap[s][mask[s]].mean() for s in samples if mask[s].any()])
                effects[g] = _interval(float(gap[mask].mean()), draws, (), method)
            rows.append(ValueGap(name, label, int(mask.sum()), effects))
    x, groups = _columns(genes, specs)
    y = gaps[LEAD]
    point, r2 = _fit_effects(x, y, groups)
    draws = np.array([_fit_effects(x[s], y[s], groups)[0] for s in samples])
    fit = [GeneFit(name, _interval(float(point[i]), draws[:, i], (), method))
           for i, (name, _) in enumerate(groups)]
    order = {name: i for i, name in enumerate(f.gene for f in sorted(fit, key=lambda f: -f.effect.mean))}
    rows.sort(key=lambda r: order[r.gene])
    return GeneEffects(tuple(others), tuple(rows), tuple(sorted(fit, key=lambda f: -f.effect.mean)), r2,
                       len(genes), x.shape[1])
