"""Abstract execution: reject rules that cannot train before any training is spent.

``check`` runs a rule in NumPy on fixed probe streams (``dsl.probe``: six steps
on two leaves, gradients ``N(0, 1) * exp(U(-3, 1))``) and returns why it is
hopeless, or ``None``:

* a NaN or infinite update;
* an update that is identically zero;
* an absurd scale: median ``|u| > MAX_SCALE`` on these unit-scale gradients;
* too little dependence on the gradient: fed ``dsl.probe.GRADIENT_SEEDS`` independent gradient
  streams (same parameters), the part of ``u`` that varies with the gradient,
  ``mean_k ||u_k - mean_j u_j|| / ||u_k||``, is below ``MIN_GRADIENT_SHARE``.
  Library rules score 0.82-0.88 (four streams of pure noise give sqrt(3/4));
  ``return p`` scores 0 and ``p * (g < 1.45)`` 0.19: such rules game tasks whose
  minimizer is the origin instead of optimizing;
* not a descent direction: the mean over the probe steps of ``cos(u, g)`` is <= 0
  (``return -g`` is -1; every library rule is above 0.4), or on a probe quadratic
  (``dsl.probe.descent``) no learning rate of a sweep of ``SWEEP`` lowers the loss.
  Parameters move by ``p <- p - lr * u``: such a rule can only climb.

Each rejection has a kind (``KINDS``); ``mutate_valid`` / ``crossover_valid`` vary until the
child passes, counting the kinds of the children they threw away in ``rejected`` if given,
and ``random_rule`` draws random rules that pass, for initial populations. Given ``new``, a
predicate, ``mutate_valid`` also throws away children that are not new (kind ``"known"``),
before checking them: a search asks for children whose behaviour it has not trained yet, and
a behaviour's key costs a fraction of the checks.
"""

from __future__ import annotations

import collections
import functools
import random
from collections.abc import Callable, Iterable
from typing import NamedTuple

import numpy as np

from discovery.config import VariationSettings, Vocabulary
from dsl.errors import DSLError
from dsl.leaves import Leaves
from dsl.probe import PROBE_STEPS, descent, standard_streams, standard_updates
from dsl.rule import Rule

from . import blocks
from .genome import genome_to_rule, random_genome
from .variation import NO_OP, crossover, mutate

MAX_SCALE = 1e6
MIN_GRADIENT_SHARE = 0.5
SWEEP = tuple(10.0 ** k for k in range(-4, 1))  # lrs, times 1 / RMS of the rule's first updates
KINDS = ("not finite", "zero", "scale", "gradient share", "ascent", "no descent", NO_OP, "known")


class Rejection(NamedTuple):
    """Why a rule is not worth training: its kind (one of ``KINDS``) and what was measured."""

    kind: str
    message: str


_NOT_FINITE = Rejection("not finite", "update is NaN or infinite on the probe streams")


def _per_stream(leaves: Leaves, packed: np.ndarray) -> np.ndarray:
    """``[streams, elements]``: each stream's values, step by step and leaf by leaf."""
    steps, lanes = packed.shape[:2]
    per_leaf = leaves.unpack(packed, lanes=(steps, lanes))
    return np.concatenate([x.reshape(steps, lanes, -1) for x in per_leaf], axis=2).transpose(1, 0, 2).reshape(lanes, -1)


def _updates(rule: Rule) -> np.ndarray:
    """``[streams, elements]``: the rule's updates on the gradient streams (``GRADIENT_SEEDS``)."""
    leaves = standard_streams()[0]
    return _per_stream(leaves, standard_updates(rule)[:, 1:])


@functools.cache
def _first_gradients() -> np.ndarray:
    """``[steps, elements]``: the first gradient stream, laid out as ``_updates``' rows."""
    leaves, grads, _ = standard_streams()
    return _per_stream(leaves, grads[:, 1:])[0].reshape(PROBE_STEPS, -1)


def probe_cosine(rule: Rule, updates: np.ndarray | None = None) -> float:
    """Mean over the steps of the first probe stream of ``cos(u, g)`` (all leaves of a step
    together): -1 for ``return -g``; every library rule is above 0.4."""
    u = (_updates(rule) if updates is None else updates)[0]
    return gradient_cosine(u.reshape(PROBE_STEPS, -1), _first_gradients())


def rejection(rule: Rule) -> Rejection | None:
    """``None`` if the rule may be worth training, else why it is not."""
    updates = _updates(rule)
    u = updates[0]
    if not np.all(np.isfinite(u)):
        return _NOT_FINITE
    if not np.any(u):
        return Rejection("zero", "update is identically zero")
    scale = float(np.median(np.abs(u)))
    if scale > MAX_SCALE:
        return Rejection("scale", f"absurd scale: median |u| = {scale:.3g} on unit-scale gradients")
    if not np.all(np.isfinite(updates)):
        return _NOT_FINITE
    share = gradient_share(updates)
    if share < MIN_GRADIENT_SHARE:
        return Rejection("gradient share", f"update barely depends on the gradient (gradient share "
                                           f"{share:.2f} < {MIN_GRADIENT_SHARE})")
    cosine = probe_cosine(rule, updates)
    if not cosine > 0:
        return Rejection("ascent", f"not a descent direction: mean cos(u, g) = {cosine:.2f} <= 0")
    progress = descent(rule, SWEEP)
    if not progress < 1:
        return Rejection("no descent", f"no lr of {len(SWEEP)} tried lowers a probe quadratic "
                                       f"(best final / initial loss {progress:.3g})")
    return None


def check(rule: Rule) -> str | None:
    """``None`` if the rule may be worth training, else the reason it is not (``rejection``)."""
    found = rejection(rule)
    return None if found is None else found.message


def gradient_cosine(updates: np.ndarray, grads: np.ndarray) -> float:
    """Mean over steps of the cosine between the update and the gradient, both ``[steps, elements]``
    (all leaves of a step together)."""
    cosines = []
    for u, g in zip(updates, grads):
        norm = np.linalg.norm(u) * np.linalg.norm(g)
        cosines.append(float(u @ g / norm) if norm > 0 else 0.0)
    return float(np.mean(cosines))


def gradient_share(updates: np.ndarray) -> float:
    """``mean_k ||u_k - mean_j u_j|| / ||u_k||`` over the rows ``u_k`` (one per gradient stream)."""
    spread = np.linalg.norm(updates - updates.mean(axis=0), axis=1)
    return float(np.mean(spread / np.maximum(np.linalg.norm(updates, axis=1), 1e-300)))


_NO_OP = Rejection(NO_OP, "the variation changed nothing")
_KNOWN = Rejection("known", "a behaviour already known")


def _first_valid(vary: Callable[[], tuple[Rule, str]], parent: Rule, max_tries: int,
                 rejected: collections.Counter | None,
                 new: Callable[[Rule], bool] | None = None) -> tuple[Rule, str]:
    for _ in range(max_tries):
        child, description = vary()
        found = (_NO_OP if description == NO_OP else
                 _KNOWN if new is not None and not new(child) else rejection(child))
        if found is None:
            return child, description
        if rejected is not None:
            rejected[found.kind] += 1
    return parent, NO_OP


def mutate_valid(parent: Rule, rng: random.Random, max_tries: int = 20,
                 config: VariationSettings | None = None,
                 rejected: collections.Counter | None = None,
                 new: Callable[[Rule], bool] | None = None) -> tuple[Rule, str]:
    """``mutate`` until the child passes ``check`` (and ``new``, if given, holds for it, asked
    first); ``(parent, NO_OP)`` after ``max_tries``."""
    return _first_valid(lambda: mutate(parent, rng, config), parent, max_tries, rejected, new)


def crossover_valid(a: Rule, b: Rule, rng: random.Random, max_tries: int = 20,
                    config: VariationSettings | None = None,
                    rejected: collections.Counter | None = None) -> tuple[Rule, str]:
    """``crossover`` until the child passes ``check``; ``(a, NO_OP)`` after ``max_tries``."""
    return _first_valid(lambda: crossover(a, b, rng, config), a, max_tries, rejected)


def random_rule(rng: random.Random, n_statements: int = 3, params: Iterable[tuple[str, float]] = (),
                name: str = "random", max_height: int = 3, max_tries: int = 1000,
                vocabulary: Vocabulary = "primitive") -> Rule:
    """A random rule that passes ``check``: ``n_statements`` random assignments and a return
    (``"primitive"``), or ``return g`` with random building blocks (``"blocks"``,
    ``blocks.random_block_rule``).

    Example: ``random_rule(random.Random(0), 2, params=[("beta", 0.9)])``.
    """
    params = tuple(params)
    draw = {"primitive": lambda: genome_to_rule(random_genome(rng, n_statements, params, name, max_height)),
            "blocks": lambda: blocks.random_block_rule(rng, name)}[vocabulary]
    for _ in range(max_tries):
        try:
            rule = draw()
        except DSLError:
            continue
        if check(rule) is None:
            return rule
    raise RuntimeError(f"no valid random rule with {n_statements} statements in {max_tries} tries")
