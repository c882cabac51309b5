"""Home advantage by selection on a shared pool, measured on training seeds that never selected.

A pool (per replicate seed ``s``) is a set of architectures on which every panel
optimizer ``g`` was fairly tuned twice from disjoint training seeds: its *selection*
score ``S_s[g][a]`` and its *measurement* score ``T_s[g][a]`` (log10 held-out loss,
mean over the seeds of each half; lower is better). A fixed optimizer ``f`` selects
the ``k`` architectures it does best on, by its selection scores only:

    top_s(f) = the k members a with the lowest S_s[f][a]   (exact ties: a seeded order)

and the matrix the home advantage is made of reads measurement scores only:

    M_s[f][g] = mean_{a in top_s(f)} T_s[g][a]
    R_s[f][g] = M_s[f][g] - mean_h M_s[f][h]
    HA_s(g)   = mean_{f != g} R_s[f][g] - R_s[g][g]

(``relative`` and ``home_advantage``). Were ``T = S``, the training noise that put a
member in ``f``'s top k would also make ``f`` look good there: every optimizer would
get a home advantage from the winner's curse alone. With independent halves that noise
is not in ``T``, so a pool without any interaction gives ``HA = 0`` on average
(``tests/test_hypothesis.py`` checks both on pure-noise pools).

After rounds of selection (``rounds``) each optimizer selects among its own lineage's
*candidates* ``C_s(f)`` (``SeedPool.candidates``, a mask per optimizer over the members
of the round) instead of the whole pool: ``top_s(f)`` is then the k lowest ``S_s[f]``
within ``C_s(f)``. In round 0 every candidate set is the whole random pool.

Intervals: a percentile bootstrap over replicate seeds and, within each, over the
pool's *blocks* (a block is the members that share a base architecture: one member in
a random pool, the base at every value of a planted gene in a blocked one), resampled
with replacement and selected again: ``HA* = mean over resampled seeds of HA_s`` on
the resampled pools. After rounds each lineage resamples its own candidates' blocks, as many
as it has, from draws common to all lineages (``SeedPool.resample``: in round 0, where every
lineage's candidates are the pool, that is one resample of the pool, as without rounds).
Adding a fixed optimizer costs only its selection.

Example::

    pool = SeedPool(selection={"adam": s_a, "sgd": s_g}, measurement={"adam": t_a, "sgd": t_g},
                    blocks=np.arange(16), order=np.arange(16))   # candidates: every member
    by_optimizer, mean = home_advantage_intervals([pool], ("adam", "sgd"), ("adam", "sgd"), k=4)
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence

import numpy as np

from discovery.experiments import statistics as st

RESAMPLES = 2000


def relative(m: np.ndarray) -> np.ndarray:
    """``R[f][g] = M[f][g] - mean_h M[f][h]``."""
    return m - m.mean(axis=1, keepdims=True)


def home_advantage(m: np.ndarray, fixed: Sequence[str], panel: Sequence[str]) -> dict[str, float]:
    """``HA(g) = mean_{f != g} R[f][g] - R[g][g]`` for every ``g`` of ``fixed`` (>0: better at home)."""
    r = relative(m)
    out = {}
    for i, g in enumerate(fixed):
        j = list(panel).index(g)
        away = [r[k, j] for k in range(len(fixed)) if k != i]
        out[g] = float(np.mean(away) - r[i, j])
    return out


@dataclasses.dataclass(frozen=True)
class SeedPool:
    """One replicate's pool as arrays over its members: ``selection[g]`` and ``measurement[g]``
    (log10 scores from disjoint training seeds), ``blocks`` (the block of each member),
    ``order`` (a seeded rank of each member that breaks exact ties in selection: an optimizer
    invariant to a planted gene scores a base's copies alike) and ``candidates[f]`` (a mask:
    the members optimizer ``f`` may select; none given: every member)."""

    selection: dict[str, np.ndarray]
    measurement: dict[str, np.ndarray]
    blocks: np.ndarray
    order: np.ndarray
    candidates: dict[str, np.ndarray] | None = None

    def mask(self, f: str) -> np.ndarray:
        """The members ``f`` may select."""
        return np.ones(len(self.blocks), bool) if self.candidates is None else self.candidates[f]

    def take(self, members: np.ndarray) -> SeedPool:
        """The pool of ``members`` (indices, repeats allowed: a bootstrap resample)."""
        return SeedPool({g: v[members] for g, v in self.selection.items()},
                        {g: v[members] for g, v in self.measurement.items()},
                        self.blocks[members], self.order[members],
                        None if self.candidates is None else {f: m[members] for f, m in self.candidates.items()})

    def resample(self, rng: np.random.Generator) -> SeedPool:
        """As many blocks as the pool has, drawn with replacement, each with all its members. With
        candidates, each lineage draws as many of its own candidates' blocks as it has, all from the
        same uniform draws (lineages with the same candidates, as in round 0, draw the same blocks:
        one resample of a shared pool); the result holds each lineage's draw, marked as its own."""
        ids, rows = self._block_rows
        if self.candidates is None:
            return self.take(np.concatenate([rows[b] for b in rng.integers(0, len(ids), len(ids))]))
        uniform = rng.random(len(ids))
        drawn = {f: np.concatenate([rows[b] for b in own[(uniform[:len(own)] * len(own)).astype(int)]])
                 for f, own in self._lineage_blocks.items()}
        pool = self.take(np.concatenate(list(drawn.values())))
        ends = np.cumsum([0, *map(len, drawn.values())])
        marks = {f: np.zeros(ends[-1], bool) for f in drawn}
        for f, a, b in zip(drawn, ends[:-1], ends[1:]):
            marks[f][a:b] = True
        return dataclasses.replace(pool, candidates=marks)

    @functools.cached_property
    def _block_rows(self) -> tuple[np.ndarray, list[np.ndarray]]:
        """The pool's blocks (sorted) and each one's rows."""
        ids = np.unique(self.blocks)
        return ids, [np.flatnonzero(self.blocks == b) for b in ids]

    @functools.cached_property
    def _lineage_blocks(self) -> dict[str, np.ndarray]:
        """Per lineage, the positions in ``_block_rows`` of its candidates' blocks (a block's members
        are candidates together: copies of one base)."""
        ids, _ = self._block_rows
        return {f: np.searchsorted(ids, np.unique(self.blocks[m])) for f, m in self.candidates.items()}

    def top(self, f: str, k: int) -> np.ndarray:
        """Indices of ``f``'s selection: its ``k`` best candidates (all of them where it has fewer)."""
        allowed = np.flatnonzero(self.mask(f))
        return allowed[top_k(self.selection[f][allowed], min(k, len(allowed)), self.order[allowed])]


def top_k(scores: np.ndarray, k: int, order: np.ndarray) -> np.ndarray:
    """Indices of the ``k`` lowest ``scores``, exact ties in ``order``."""
    if not 0 < k <= len(scores):
        raise ValueError(f"cannot select the top {k} of a pool of {len(scores)}")
    return np.lexsort((order, scores))[:k]


def matrix(pool: SeedPool, fixed: Sequence[str], panel: Sequence[str], k: int) -> np.ndarray:
    """``M[f][g]``: mean measurement score of ``g`` on the top ``k`` of ``f``'s candidates by selection."""
    rows = []
    for f in fixed:
        chosen = pool.top(f, k)
        rows.append([float(pool.measurement[g][chosen].mean()) for g in panel])
    return np.array(rows)


def selected(pool: SeedPool, fixed: Sequence[str], k: int) -> np.ndarray:
    """The members any fixed optimizer selects (sorted indices)."""
    return np.unique(np.concatenate([pool.top(f, k) for f in fixed]))


@dataclasses.dataclass(frozen=True)
class Draws:
    """``HA_s`` per seed and the bootstrap's draws of their mean, per fixed optimizer and (last
    column) their mean over the fixed optimizers. Draws made with the same ``seed`` resample the
    same replicate seeds, so two rounds' draws can be subtracted (``change``)."""

    fixed: tuple[str, ...]
    per_seed: np.ndarray  # seeds x (fixed + 1)
    draws: np.ndarray     # resamples x (fixed + 1)
    method: str

    def effects(self) -> tuple[dict[str, st.Effect], st.Effect]:
        effects = [_effect(self.per_seed[:, i], self.draws[:, i], self.method) for i in range(len(self.fixed) + 1)]
        return dict(zip(self.fixed, effects)), effects[-1]

    def change(self, before: Draws) -> tuple[dict[str, st.Effect], st.Effect]:
        """``HA`` here minus ``HA`` in ``before`` (another round, or another design, of the same seeds)
        per fixed optimizer of both, and of the means, with intervals from the paired draws."""
        pairs = [(i, before.fixed.index(g)) for i, g in enumerate(self.fixed) if g in before.fixed]
        pairs.append((len(self.fixed), len(before.fixed)))
        effects = [_effect(self.per_seed[:, i] - before.per_seed[:, j], self.draws[:, i] - before.draws[:, j],
                           self.method) for i, j in pairs]
        return dict(zip([self.fixed[i] for i, _ in pairs[:-1]], effects)), effects[-1]


def _effect(per_seed: np.ndarray, draws: np.ndarray, method: str) -> st.Effect:
    alpha = (1 - st.CONFIDENCE) / 2
    low, high = np.quantile(draws, [alpha, 1 - alpha])
    return st.Effect(float(per_seed.mean()), float(low), float(high), tuple(per_seed.tolist()), method)


def home_advantage_draws(pools: Sequence[SeedPool], fixed: Sequence[str], panel: Sequence[str], k: int,
                         resamples: int | None = None, seed: int = 0) -> Draws:
    """``HA_s`` per seed and the bootstrap draws over seeds and blocks (module doc); ``resamples``
    defaults to ``RESAMPLES`` as the module holds it when called."""
    resamples = resamples or RESAMPLES
    def values(has: list[dict[str, float]]) -> np.ndarray:
        per = np.array([[h[g] for g in fixed] for h in has])
        return np.column_stack([per, per.mean(axis=1)])  # the fixed optimizers', then their mean

    per_seed = values([home_advantage(matrix(p, fixed, panel, k), fixed, panel) for p in pools])
    chosen = np.random.default_rng(seed).integers(0, len(pools), (resamples, len(pools)))
    rng = np.random.default_rng(seed + 1)
    draws = np.array([values([home_advantage(matrix(pools[i].resample(rng), fixed, panel, k), fixed, panel)
                              for i in row]).mean(axis=0) for row in chosen])
    method = f"percentile bootstrap over {len(pools)} seeds and the pools' blocks, {resamples} resamples"
    return Draws(tuple(fixed), per_seed, draws, method)


def home_advantage_intervals(pools: Sequence[SeedPool], fixed: Sequence[str], panel: Sequence[str], k: int,
                             resamples: int | None = None, seed: int = 0) -> tuple[dict[str, st.Effect], st.Effect]:
    """Per fixed optimizer ``g``, ``HA(g)`` (mean over seeds of ``HA_s(g)``), and the mean over the
    fixed optimizers, each with its bootstrap interval over seeds and blocks (module doc);
    ``Effect.values`` holds the per-seed values."""
    return home_advantage_draws(pools, fixed, panel, k, resamples, seed).effects()
