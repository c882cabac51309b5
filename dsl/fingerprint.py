"""Functional hashing of rules (AutoML-Zero / Lion style).

Two rules that compute the same updates on fixed probe streams share a
fingerprint, so a search trains each behaviour once: ``g + g`` and ``2*g``, or
reordered independent statements, hash alike. ``behaviour`` hashes the
updates up to a positive factor: rules that are one optimizer once the
learning rate is tuned (``u`` and ``1000 * u``) share its key.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import numpy as np

from .probe import PROBE_STEPS, standard_streams, standard_updates
from .rule import Rule

MANTISSA_BITS = 18  # updates agreeing to ~4e-6 relative hash alike


def quantize(x: np.ndarray) -> np.ndarray:
    """Round to MANTISSA_BITS of mantissa; NaN and +-inf map to fixed codes."""
    x = np.asarray(x, np.float64).ravel()
    finite = np.isfinite(x)
    mant, expo = np.frexp(np.where(finite, x, 0.0))
    q = np.round(mant * (1 << MANTISSA_BITS)).astype(np.int64)
    # Rounding up to 2**MANTISSA_BITS is the same number as the next exponent's half.
    top = np.abs(q) == (1 << MANTISSA_BITS)
    q = np.where(top, q // 2, q)
    expo = np.where(top, expo + 1, expo).astype(np.int64)
    expo = np.where(q == 0, 0, expo)
    special = np.where(np.isnan(x), 1, np.where(np.isposinf(x), 2, np.where(np.isneginf(x), 3, 0)))
    return np.stack([q, expo, special.astype(np.int64)])


def fingerprint(rule: Rule) -> str:
    """A 16-hex-digit hash of the rule's updates on fixed probe streams (default hyper-parameters)."""
    return _digest(_updates(rule))


class Behaviour(NamedTuple):
    """A rule's updates up to scale: ``key`` hashes them divided by ``magnitude`` > 0."""

    key: str
    magnitude: float


def behaviour(rule: Rule) -> Behaviour:
    """The scale-free behavioural key of ``rule`` and the magnitude of its updates.

    With ``u`` all updates on the fingerprint's probe streams (every step and
    element), ``magnitude = sqrt(mean(u**2))`` over the finite ones and ``key``
    the hash of ``u / magnitude``: ``c * rule`` (``c > 0``) has the key of
    ``rule`` and ``c`` times its magnitude; ``-rule`` another key. Infinities
    and NaNs keep their place in the hash; a rule with no finite non-zero
    update has magnitude 0 and is hashed as it is. Example: ``return 1000 * g``
    gives ``behaviour(sgd)`` with magnitude ``1000 * behaviour(sgd).magnitude``.
    """
    updates = _updates(rule)
    finite = np.concatenate([np.ravel(u) for row in updates for u in row])
    finite = finite[np.isfinite(finite)]
    largest = float(np.max(np.abs(finite), initial=0.0))
    if largest == 0:
        return Behaviour(_digest(updates), 0.0)
    magnitude = largest * float(np.sqrt(np.mean(np.square(finite / largest))))
    return Behaviour(_digest([[u / magnitude for u in row] for row in updates]), magnitude)


def _updates(rule: Rule) -> list[list[np.ndarray]]:
    """``u[step][leaf]`` on the fingerprint's stream (lane 0 of ``dsl.probe.standard_streams``)."""
    leaves = standard_streams()[0]
    per_leaf = leaves.unpack(standard_updates(rule)[:, 0], lanes=(PROBE_STEPS,))
    return [[x[step] for x in per_leaf] for step in range(PROBE_STEPS)]


def _digest(updates: list[list[np.ndarray]]) -> str:
    """The hash of ``quantize(u)`` for each leaf ``u`` of each step, in order (quantized at once)."""
    arrays = [u for row in updates for u in row]
    codes = quantize(np.concatenate([np.ravel(u) for u in arrays]))
    ends = np.cumsum([np.size(u) for u in arrays])
    digest = hashlib.sha256()
    for start, end in zip([0, *ends[:-1]], ends):
        digest.update(np.ascontiguousarray(codes[:, start:end]).tobytes())
    return digest.hexdigest()[:16]
