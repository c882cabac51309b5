"""The token-model family: next-token models on a synthetic Zipfian stream, described by genes.

Task ``zipf_tokens`` (the default genes; ``zipf_data.token_stream``): sequences
of ``LENGTH`` tokens over a vocabulary of ``VOCAB``; the first token is the
sequence's topic (Zipf); each next token is drawn from softmax(log Zipf prior
+ a rank-``RANK`` bigram term of the current token + a rank-``RANK`` term of
the topic). Loss: the mean over positions of KL(true next-token distribution
|| the model's), in nats (``classification.kl_from_truth``): 0 only for the
true process, so neither the stream's entropy nor the float floor decides a
score. Minibatches of ``batch_size`` sequences; ``test_loss`` is the same KL
on held-out sequences of the same process.

Genes (``TokenArchitecture``): embedding width (a shape), blocks in use, attention
on/off and its heads, MLP on/off, normalization none / LayerNorm / RMSNorm and its
placement (pre / post), residual connections, init scales of the embeddings, the
attention and the MLP weights, the output-head scale, tied embeddings, a bias on
the logits. The
network (``token_model``) has one shape per width, ``(slots, width)``, with as
many blocks as the cheapest architecture of that width can have within the
parameter budget (at most ``MAX_DEPTH``); every other gene is data. At the
default 20,000-parameter budget there are 3 shapes.

Example::

    arch = TokenArchitecture(width=16, depth=2, norm="rmsnorm", placement="post", tied=True)
    task = from_token_architecture(arch, "small", budget=20_000)
    TokenArchitecture.from_dict(arch.to_dict()) == arch
"""

from __future__ import annotations

import dataclasses
import functools
import math
import random
from typing import ClassVar

import jax
import jax.numpy as jnp
import numpy as np

from .base import Params, PyTree, Size, Task, float32, int32, row_sampler, sized
from .classification import kl_from_truth
from .family import Family, GenesRecord, choice, flag, integer, ladder, scale
from .token_model import (
    NORMS,
    PLACEMENTS,
    SCALED,
    apply_token_model,
    init_token_model,
    switches,
    used_leaves,
)
from .zipf_data import token_stream

VOCAB = 64
LENGTH = 8
RANK = 8
BETA_BIGRAM = 3.0
BETA_TOPIC = 1.0
EXPONENT = 1.0
N_TEST = 256
CONTROL_SEED = 7
# z_c of the positive control's gradient factors exp(sigma z_c): fixed, a property of the task.
CONTROL_Z = np.random.default_rng(CONTROL_SEED).standard_normal(SCALED)
MAX_DEPTH = 3
WIDTHS = (16, 32, 64)
DATA_SIZES = {
    "small": {"n_sequences": 512, "batch_size": 32, "seed": 0},
    "default": {"n_sequences": 4096, "batch_size": 128, "seed": 0},
}


@dataclasses.dataclass(frozen=True)
class TokenArchitecture(GenesRecord):
    """One member of the token-model family; validated on construction (see ``family.GenesRecord``)."""

    FAMILY = "token_model"

    width: int = ladder(32, WIDTHS, "embedding width d (a shape)")
    depth: int = integer(1, 0, MAX_DEPTH, "blocks in use")
    attention: bool = flag(True, "causal self-attention in each block")
    heads: int = ladder(2, (1, 2, 4), "attention heads (d / heads channels each)")
    mlp: bool = flag(True, "an MLP (hidden width 4d) in each block")
    norm: str = choice("layernorm", NORMS, "normalization of each sub-block (and before the head, pre)")
    placement: str = choice("pre", PLACEMENTS, "pre: h + f(N(h)); post: N(h + f(h))")
    residual: bool = flag(True, "residual connections around each sub-block")
    embed_scale: float = scale(1.0, sigma=1.0, doc="init std of the token and position embeddings")
    attn_scale: float = scale(1.0, doc="init std of W_qkv and W_o, times 1/sqrt(d)")
    mlp_scale: float = scale(1.0, doc="init std of the MLP, times He's")
    head_scale: float = scale(1.0, sigma=1.0, doc="multiplier on the logits")
    tied: bool = flag(False, "the output head is the transposed token embedding")
    head_bias: bool = flag(False, "a bias on the logits (a language model's head, GPT-2's, has none)")
    # The hypothesis experiment's controls (token_model.py); fixed at 0 here, genes of CONTROLS.
    gradient_spread: float = ladder(0.0, (0.0,), "sigma: channel c's gradient times exp(sigma z_c), every weight")
    label_noise: float = ladder(0.0, (0.0,), "share of the uniform distribution mixed into the targets")

    def check(self) -> None:
        if self.depth and not (self.attention or self.mlp):
            raise ValueError("TokenArchitecture: a block needs attention or an MLP (or use depth 0)")

    def n_params(self) -> int:
        """Parameters the loss reads: embeddings, head, biases, norms and the blocks in use."""
        d = self.width
        norm = {"none": 0, "layernorm": 2 * d, "rmsnorm": d}[self.norm]
        total = VOCAB * d + LENGTH * d + (VOCAB if self.head_bias else 0) + (0 if self.tied else d * VOCAB)
        total += norm if self.placement == "pre" else 0
        block = (4 * d * d + norm if self.attention else 0) + (
            2 * 4 * d * d + 4 * d + d + norm if self.mlp else 0)
        return total + self.depth * block

    def slots(self, budget: int | None = None) -> int:
        """Blocks of the network that trains this architecture: the most that the cheapest
        architecture of its width (attention only, tied, no norm) has within ``budget`` (its own
        depth without a budget, or if it is deeper)."""
        if budget is None:
            return self.depth
        cheapest = dataclasses.replace(self, attention=True, mlp=False, norm="none", tied=True)
        fitting = [k for k in range(1, MAX_DEPTH + 1)
                   if dataclasses.replace(cheapest, depth=k).n_params() <= budget]
        return max([self.depth, *fitting])

    def shape(self, budget: int | None = None) -> tuple[int, int]:
        """(slots, width): all that compiled code depends on."""
        return self.slots(budget), self.width

    def switches(self):
        """Every gene but the shape, as arrays for ``token_model.apply_token_model``."""
        d = self.width
        stds = (self.embed_scale, self.attn_scale / math.sqrt(d), self.mlp_scale * math.sqrt(2.0 / d),
                self.mlp_scale / math.sqrt(4 * d), 1.0 / math.sqrt(d))
        return switches(width=d, depth=self.depth, attention=self.attention, heads=self.heads, mlp=self.mlp,
                        norm=self.norm, placement=self.placement, residual=self.residual, tied=self.tied,
                        head_bias=self.head_bias, stds=stds, head_scale=self.head_scale,
                        gradient_scales=np.exp(self.gradient_spread * CONTROL_Z).tolist(), label_noise=self.label_noise)

    def summary(self) -> str:
        """E.g. ``d32 x1 attn(2h)+mlp layernorm pre residual``, then the non-default scales."""
        parts = [f"d{self.width} x{self.depth}"]
        if self.depth:
            parts.append("+".join([f"attn({self.heads}h)"] * self.attention + ["mlp"] * self.mlp))
        parts.append(f"{self.norm} {self.placement}" if self.norm != "none" else "no norm")
        parts += ["residual"] * self.residual + ["tied"] * self.tied + ["head bias"] * self.head_bias
        parts += [f"{name.removesuffix('_scale')} x{getattr(self, name):g}"
                  for name in ("embed_scale", "attn_scale", "mlp_scale", "head_scale") if getattr(self, name) != 1.0]
        parts += [f"{name.replace('_', ' ')} {getattr(self, name):g}"
                  for name in ("gradient_spread", "label_noise") if getattr(self, name)]
        return " ".join(parts)


GENE_NAMES = frozenset(f.name for f in dataclasses.fields(TokenArchitecture))


def noisy_kl(log_q: jax.Array, log_p: jax.Array, noise: jax.Array) -> jax.Array:
    """The loss against targets ``p' = (1 - noise) p + noise / VOCAB``: the cross-entropy of the
    model's ``q`` under ``p'`` minus ``p``'s entropy. With no noise it is ``KL(p || q)``; noise
    adds ``H(p') - H(p)`` (and a smoother target) whatever the optimizer: a higher floor for all."""
    p = jnp.exp(log_p)
    noisy = (1.0 - noise) * p + noise / VOCAB
    with_noise = jnp.mean(jnp.sum(p * log_p - noisy * log_q, axis=-1))
    return jnp.where(noise > 0, with_noise, kl_from_truth(log_q, log_p))


@functools.lru_cache(maxsize=8)
def stream_arrays(n: int, seed: int, stream: int) -> tuple[np.ndarray, np.ndarray]:
    """(tokens, true next-token log-probabilities) of the family's process, cached, read-only."""
    out = token_stream(n, LENGTH, VOCAB, RANK, BETA_BIGRAM, BETA_TOPIC, EXPONENT, seed, stream)
    for a in out:
        a.flags.writeable = False
    return out


@sized
def make_zipf_tokens(genes_class: type = TokenArchitecture, /, *, n_sequences: int, batch_size: int, seed: int,
                     slots: int | None = None, **genes) -> Task:
    """The ``zipf_tokens`` task for the architecture ``genes`` (a ``genes_class`` record: the family's
    or a control's) in a network of ``slots`` blocks (default: its depth). The shape (slots, width)
    is code; the genes are data: ``train_data`` and ``test_data`` carry them under ``"arch"``."""
    arch = genes_class.from_dict(genes)
    slots = arch.depth if slots is None else slots
    if slots < arch.depth:
        raise ValueError(f"an architecture of depth {arch.depth} does not fit {slots} slots")
    train_x, train_p = stream_arrays(n_sequences, seed, 0)
    test_x, test_p = stream_arrays(N_TEST, seed, 1)
    rows = row_sampler(batch_size)
    width = arch.width

    def init(key: jax.Array, data: PyTree) -> Params:
        return init_token_model(key, VOCAB, LENGTH, width, slots, data["arch"])

    def loss(params: Params, data: PyTree) -> jax.Array:
        logits = apply_token_model(params, data["x"], data["arch"])
        return noisy_kl(jax.nn.log_softmax(logits, axis=-1), data["log_p"], data["arch"].label_noise)

    def sample_batch(data: PyTree, key: jax.Array) -> PyTree:
        return {**rows({"x": data["x"], "log_p": data["log_p"]}, key), "arch": data["arch"]}

    s = arch.switches()
    return Task(
        name="zipf_tokens",
        kind="deep",
        description=f"next token on a Zipfian stream ({VOCAB} tokens, {LENGTH} positions), token model "
                    f"({arch.summary()}), KL from the true next-token distribution",
        sizes={"slots": slots, **arch.to_dict()},
        init=init,
        loss=loss,
        train_data={"x": int32(train_x), "log_p": float32(train_p), "arch": s},
        test_data={"x": int32(test_x), "log_p": float32(test_p), "arch": s},
        sample_batch=sample_batch,
        metrics=lambda params, data: {"test_loss": loss(params, data)},
        f_star=None,
        batch_size=batch_size,
        data_sizes=GENE_NAMES - {"width"},
        used=lambda params, data: used_leaves(params, data["arch"]),
    )


def from_token_architecture(arch: TokenArchitecture, size: Size = "small", budget: int | None = None) -> Task:
    """The task training ``arch`` at data size ``size``, in the network every architecture of its
    width within ``budget`` parameters shares (``TokenArchitecture.slots``)."""
    if size not in DATA_SIZES:
        raise ValueError(f"unknown size {size!r}; valid sizes: {list(DATA_SIZES)}")
    return make_zipf_tokens(type(arch), **DATA_SIZES[size], slots=arch.slots(budget), **arch.to_dict())


def shapes(budget: int) -> list[tuple[int, int]]:
    """Every shape (slots, width) of an architecture within ``budget`` parameters."""
    out = set()
    for width in WIDTHS:
        for depth in range(MAX_DEPTH + 1):
            arch = TokenArchitecture(width=width, depth=depth, mlp=False, norm="none", tied=True)
            if arch.n_params() <= budget:
                out.add(arch.shape(budget))
    return sorted(out)


TOKEN_FAMILY = Family(
    name="token_model",
    genes=TokenArchitecture,
    task="zipf_tokens",
    description="next-token model on a Zipfian stream: width, blocks, attention and heads, MLP, "
                "norm and placement, residual, init scales, head scale, tied embeddings",
    build=from_token_architecture,
    random=TokenArchitecture.random,
    edits=lambda arch, rng: arch.edits(rng),
    shapes=shapes,
)


# ----------------------------------------------------------------------------- controls
# The token family with one planted gene free to evolve (the hypothesis experiment's controls).


START_SPREAD = 2.0


@dataclasses.dataclass(frozen=True)
class GradientSpreadArchitecture(TokenArchitecture):
    """Positive control: the spread of every weight's per-channel gradient factors evolves. Adam is
    invariant to it (a fixed diagonal rescaling of the gradient), SGD-type optimizers are not:
    evolved with momentum fixed it is pushed down, with Adam fixed it drifts."""

    FAMILY = "token_model_gradient_spread"
    # The hypothesis experiment's blocked pool: every base architecture at each of these values.
    PLANTED: ClassVar[tuple[str, tuple[float, ...]]] = ("gradient_spread", (0.0, 4.0))
    gradient_spread: float = ladder(0.0, (0.0, 1.0, 2.0, 3.0, 4.0), "sigma: channel c's gradient times "
                                                                          "exp(sigma z_c), every weight")

    @classmethod
    def random(cls, rng: random.Random) -> GradientSpreadArchitecture:
        """A varied start (every other gene drawn as the family's) at sigma = ``START_SPREAD``,
        where SGD-type optimizers are hurt: evolution with momentum fixed has to push it down,
        with Adam fixed nothing does (drawn uniformly, a seed whose Adam arm happens to end at
        sigma = 0 plants nothing)."""
        return dataclasses.replace(super().random(rng), gradient_spread=START_SPREAD)


@dataclasses.dataclass(frozen=True)
class LabelNoiseArchitecture(TokenArchitecture):
    """Negative control: the label noise evolves: it raises every optimizer's floor alike."""

    FAMILY = "token_model_label_noise"
    PLANTED: ClassVar[tuple[str, tuple[float, ...]]] = ("label_noise", (0.0, 0.4))
    label_noise: float = ladder(0.0, (0.0, 0.1, 0.2, 0.3, 0.4), "share of the uniform distribution mixed "
                                                                "into the targets")


def _controlled(genes: type, what: str) -> Family:
    return dataclasses.replace(TOKEN_FAMILY, name=genes.FAMILY, genes=genes, random=genes.random,
                               description=f"the token-model family with {what} (a control)")


CONTROLS = {"positive": _controlled(GradientSpreadArchitecture, "an evolving gradient spread"),
            "negative": _controlled(LabelNoiseArchitecture, "an evolving label noise")}
