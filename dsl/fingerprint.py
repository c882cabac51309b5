"""Functional hashing of rules (AutoML-Zero / Lion style).

Two rules that compute the same updates on fixed probe streams share a
fingerprint, so a search trains each behaviour once: ``g + g`` and ``2*g``, or
reordered independent statements, hash alike.
"""

from __future__ import annotations

import functools
import hashlib

import numpy as np

from .probe import probe_streams, run_numpy
from .rule import Rule

MANTISSA_BITS = 18  # updates agreeing to ~4e-6 relative hash alike


@functools.cache
def _streams():
    return probe_streams(seed=20230213)


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
    grads, params = _streams()
    updates = run_numpy(rule, grads, params)
    digest = hashlib.sha256()
    for row in updates:
        for u in row:
            digest.update(quantize(u).tobytes())
    return digest.hexdigest()[:16]
