"""Heavy-tailed (Zipf) data generated in code: a classification teacher and a token stream.

Both problems know the true distribution of their labels, so their losses are
KL divergences from it (nats): the expected cross-entropy of a label drawn from
the truth, minus the truth's entropy. A KL is >= 0 and is 0 only for the true
distribution, so the loss is not floored by label noise (a hard-label
cross-entropy would sit on the teacher's entropy, compressing every difference
between optimizers into a few hundredths of a decade), and, since no model of
these tasks represents the truth to float precision within a few hundred
steps, it is not floored by float rounding either.

* ``zipf_prior(n, exponent)``: p_k ∝ k^-exponent, k = 1..n (Zipf; 1 is the
  exponent of word frequencies and of Kunstner et al. 2024).
* ``classification_teacher``: x ~ N(0, I_dim); true log-probabilities of class
  c given x: log softmax_c(beta x.W / sqrt(dim) + log p_c), W ~ N(0, 1): a
  linear teacher whose class frequencies are heavy-tailed (about Zipf).
* ``token_stream``: sequences x_0 .. x_T over a vocabulary of V tokens; x_0 ~
  Zipf is the sequence's topic; x_{t+1} ~ softmax(log p + bigram A[x_t] +
  topic B[x_0]), A and B random low-rank matrices (rank ``rank``, entries of
  variance beta_bigram^2 and beta_topic^2): predicting x_{t+1} needs the
  current token and the first one of the sequence (attention). Returns the
  inputs x_0 .. x_{T-1} and the true log-probabilities of each next token.

All arrays are float32 / int32 NumPy, deterministic from ``seed``.
"""

from __future__ import annotations

import numpy as np


def zipf_prior(n: int, exponent: float = 1.0) -> np.ndarray:
    """p_k = k^-exponent / sum_j j^-exponent for k = 1..n (float64)."""
    p = np.arange(1, n + 1, dtype=np.float64) ** -float(exponent)
    return p / p.sum()


def _log_softmax(z: np.ndarray) -> np.ndarray:
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def classification_teacher(n: int, dim: int, classes: int, beta: float, exponent: float,
                           seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(x [n, dim] float32, true log-probabilities [n, classes] float32) of the linear Zipf teacher;
    the teacher's weights depend on ``seed`` only, so any ``n`` draws from one teacher."""
    weights = np.random.default_rng([seed, 0]).standard_normal((dim, classes))
    x = np.random.default_rng([seed, 1, n]).standard_normal((n, dim))
    logits = beta * x @ weights / np.sqrt(dim) + np.log(zipf_prior(classes, exponent))
    return x.astype(np.float32), _log_softmax(logits).astype(np.float32)


def _low_rank(rng: np.random.Generator, n: int, rank: int, scale: float) -> np.ndarray:
    """An n x n matrix of rank ``rank`` whose entries have variance ``scale``^2."""
    return scale * rng.standard_normal((n, rank)) @ rng.standard_normal((rank, n)) / np.sqrt(rank)


def token_stream(n: int, length: int, vocab: int, rank: int, beta_bigram: float, beta_topic: float,
                 exponent: float, seed: int, stream: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(tokens [n, length] int32, true next-token log-probabilities [n, length, vocab] float32).

    The process (A, B) depends on ``seed`` only; ``stream`` picks independent sequences of it
    (0: training, 1: held out).
    """
    process = np.random.default_rng([seed, 0])
    bigram = _low_rank(process, vocab, rank, beta_bigram)
    topic = _low_rank(process, vocab, rank, beta_topic)
    log_prior = np.log(zipf_prior(vocab, exponent))
    rng = np.random.default_rng([seed, 1, stream])
    tokens = np.zeros((n, length + 1), np.int64)
    tokens[:, 0] = rng.choice(vocab, size=n, p=zipf_prior(vocab, exponent))
    targets = np.zeros((n, length, vocab))
    for t in range(length):
        targets[:, t] = _log_softmax(log_prior + bigram[tokens[:, t]] + topic[tokens[:, 0]])
        cumulative = np.cumsum(np.exp(targets[:, t]), axis=1)
        draws = rng.random((n, 1)) * cumulative[:, -1:]
        tokens[:, t + 1] = np.minimum((cumulative < draws).sum(axis=1), vocab - 1)
    return tokens[:, :length].astype(np.int32), targets.astype(np.float32)
