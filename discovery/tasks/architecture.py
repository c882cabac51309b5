"""The parametric architecture family: an MLP on MNIST-1D described by a record.

An :class:`Architecture` is plain data (str/int/float/bool fields) that
co-evolution mutates; :func:`from_architecture` turns any record into a task
with one generic builder (no code per architecture):

    h_0 = x (40 samples),  h_{l+1} = act(LN?(h_l W_l + b_l)) [+ h_l if residual
    and widths match],  logits = output_scale * (h_depth W + b),

with ``depth`` hidden layers of ``width`` units, weights
N(0, (init_scale * gain)^2 / fan_in) (He gain for ReLU-like, LeCun for tanh),
and mean softmax cross-entropy as the loss.

Only a shape is code: a network of ``slots`` hidden layers of one width, the
deepest within the run's parameter budget. The depth within the slots, the
scales, the activation, LayerNorm and residual are data the task carries
(``Architecture.switches``, ``switched_mlp``), so every architecture of a width
trains in one compiled function.

``MLP_FAMILY`` is this family as a ``family.Family`` (the name "mlp", the default
of ``[coevolution] family``): random starts, one-field edits (depth +-1, width
one step along ``WIDTHS``, another activation, LayerNorm or residual toggled, a
scale times exp(N(0, 0.5))), uniform crossover, and ``shapes(budget)``.

Example::

    arch = Architecture(depth=3, width=64, activation="gelu", norm="layernorm", residual=True)
    task = from_architecture(arch, "small")
    Architecture.from_dict(msgpack.unpackb(msgpack.packb(arch.to_dict()))) == arch
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from typing import Any

import jax

from discovery.codec import Stored, given, stored

from .base import Params, PyTree, Size, Task, row_sampler, sized
from .classification import accuracy, cross_entropy
from .family import Family, scaled
from .mlp import ACTIVATIONS, GAINS, layer_stds
from .mnist1d_data import N_CLASSES, N_FEATURES, mnist1d_splits
from .switched_mlp import Switches, apply_switched_mlp, init_switched_mlp, switches, used_leaves

NORMS = ("none", "layernorm")
# Fields that are data for the compiled network, not code (the depth within the network's slots too).
SWITCH_FIELDS = frozenset({"depth", "activation", "norm", "residual", "init_scale", "output_scale"})
MAX_DEPTH = 6
MAX_WIDTH = 4096
MAX_SCALE = 100.0

DATA_SIZES = {
    "small": {"num_samples": 1000, "batch_size": 50, "seed": 42},
    "default": {"num_samples": 5000, "batch_size": 100, "seed": 42},
}
DATASETS = ("mnist1d",)
WIDTHS = (8, 16, 32, 64, 128, 256)  # the widths variation moves along: one shape per width


@dataclasses.dataclass(frozen=True)
class Architecture(Stored):
    """One member of the MLP family; validated on construction.

    depth: hidden layers, 0..6.  width: units per hidden layer, 1..4096.
    activation: one of ``ACTIVATIONS``.  norm: "none" | "layernorm".
    residual: skip connection around each hidden layer whose input width equals ``width``.
    init_scale: multiplier on the He/LeCun init std, in (0, 100].
    output_scale: multiplier on the logits, in (0, 100].
    """

    depth: int = stored(given, default=2)  # every field checked on construction
    width: int = stored(given, default=64)
    activation: str = stored(given, default="relu")
    norm: str = stored(given, default="none")
    residual: bool = stored(given, default=False)
    init_scale: float = stored(given, default=1.0)
    output_scale: float = stored(given, default=1.0)

    def __post_init__(self) -> None:
        for name, (lo, hi) in {"depth": (0, MAX_DEPTH), "width": (1, MAX_WIDTH)}.items():
            value = getattr(self, name)
            if type(value) is not int or not lo <= value <= hi:
                raise ValueError(
                    f"Architecture.{name} must be an int in [{lo}, {hi}], got {value!r}"
                )
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"Architecture.activation must be one of {sorted(ACTIVATIONS)}, "
                f"got {self.activation!r}"
            )
        if self.norm not in NORMS:
            raise ValueError(f"Architecture.norm must be one of {list(NORMS)}, got {self.norm!r}")
        if type(self.residual) is not bool:
            raise ValueError(f"Architecture.residual must be a bool, got {self.residual!r}")
        for name in ("init_scale", "output_scale"):
            value = getattr(self, name)
            if (
                type(value) not in (int, float)
                or not math.isfinite(value)
                or not 0.0 < value <= MAX_SCALE
            ):
                raise ValueError(
                    f"Architecture.{name} must be a number in (0, {MAX_SCALE}], got {value!r}"
                )
            object.__setattr__(self, name, float(value))

    def layer_sizes(self) -> tuple[int, ...]:
        """(40, width x depth, 10): the widths of the MLP on MNIST-1D."""
        return (N_FEATURES, *([self.width] * self.depth), N_CLASSES)

    def n_params(self) -> int:
        """Number of scalar parameters: dense weights and biases, plus LayerNorm gains and biases."""
        sizes = self.layer_sizes()
        dense = sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:]))
        return dense + (2 * self.width * self.depth if self.norm == "layernorm" else 0)

    def slots(self, budget: int | None = None) -> int:
        """Hidden-layer slots of the network that trains this architecture: the most hidden layers
        of this width within ``budget`` parameters (its own depth at depth 0, without a budget, or
        if it is deeper)."""
        if self.depth == 0 or budget is None:
            return self.depth
        fitting = [d for d in range(1, MAX_DEPTH + 1)
                   if dataclasses.replace(self, depth=d, norm="none").n_params() <= budget]
        return max([self.depth, *fitting])

    def shape(self, budget: int | None = None) -> tuple[int, int]:
        """(slots, width): all that compiled code depends on (a width sets no shape without slots)."""
        slots = self.slots(budget)
        return slots, self.width if slots else 0

    def switches(self, slots: int) -> Switches:
        """Everything but the shape, as arrays for ``apply_switched_mlp`` in a network of ``slots``
        hidden layers (init stds, depth, activation index, LayerNorm and residual flags, output scale)."""
        *hidden, output = layer_stds(self.layer_sizes(), gain=GAINS[self.activation],
                                     init_scale=self.init_scale)
        return switches(hidden, output, slots, self.activation, self.norm == "layernorm", self.residual,
                        self.output_scale)

    def key(self) -> str:
        """A stable text key for caches and fingerprints (sorted JSON of the fields)."""
        return json.dumps(self.to_dict(), sort_keys=True)

    def summary(self) -> str:
        """A short human-readable description, e.g. ``2x64 relu``."""
        parts = [f"{self.depth}x{self.width} {self.activation}"]
        if self.norm != "none":
            parts.append(self.norm)
        if self.residual:
            parts.append("residual")
        if self.init_scale != 1.0:
            parts.append(f"init x{self.init_scale:g}")
        if self.output_scale != 1.0:
            parts.append(f"out x{self.output_scale:g}")
        return ", ".join(parts)


@sized
def make_mlp_family(*, num_samples: int, batch_size: int, seed: int, slots: int | None = None,
                    **fields: Any) -> Task:
    """The family task for the architecture whose fields are ``fields``, in a network of ``slots``
    hidden layers (default: its depth).

    The network's shape (slots, width) is code; the architecture is data (``Architecture.switches``):
    ``train_data`` and ``test_data`` carry it under ``"arch"``.
    """
    arch = Architecture.from_dict(fields)
    slots = arch.depth if slots is None else slots
    if slots < arch.depth or (arch.depth == 0) != (slots == 0):
        raise ValueError(f"an architecture of depth {arch.depth} does not fit {slots} slots")
    train, test = mnist1d_splits(num_samples, seed)
    sizes = (N_FEATURES, *([arch.width] * slots), N_CLASSES)
    rows = row_sampler(batch_size)

    def init(key: jax.Array, data: PyTree) -> Params:
        return init_switched_mlp(key, sizes, data["arch"])

    def logits(params: Params, data: PyTree) -> jax.Array:
        return apply_switched_mlp(params, data["x"], data["arch"])

    def loss(params: Params, data: PyTree) -> jax.Array:
        return cross_entropy(logits(params, data), data["y"])

    def metrics(params: Params, data: PyTree) -> dict:
        z = logits(params, data)
        return {"test_loss": cross_entropy(z, data["y"]), "accuracy": accuracy(z, data["y"])}

    def sample_batch(data: PyTree, key: jax.Array) -> PyTree:
        return {**rows({"x": data["x"], "y": data["y"]}, key), "arch": data["arch"]}

    arch_data = arch.switches(slots)
    return Task(
        name="mlp_family",
        kind="deep",
        description=f"MNIST-1D, architecture-family MLP ({arch.summary()}), cross-entropy",
        sizes={"slots": slots, **arch.to_dict()},
        init=init,
        loss=loss,
        train_data={**train, "arch": arch_data},
        test_data={**test, "arch": arch_data},
        sample_batch=sample_batch,
        metrics=metrics,
        f_star=None,
        batch_size=batch_size,
        data_sizes=SWITCH_FIELDS | ({"width"} if slots == 0 else set()),
        used=lambda params, data: used_leaves(params, data["arch"]),
    )


def from_architecture(arch: Architecture, size: Size = "small", *, dataset: str = "mnist1d",
                      budget: int | None = None) -> Task:
    """The task training ``arch`` on ``dataset`` at data size ``size`` ("small" | "default"), in the
    network every architecture of its width within ``budget`` parameters shares (``Architecture.slots``)."""
    if dataset not in DATASETS:
        raise ValueError(f"unknown dataset {dataset!r}; valid datasets: {list(DATASETS)}")
    if size not in DATA_SIZES:
        raise ValueError(f"unknown size {size!r}; valid sizes: {list(DATA_SIZES)}")
    return make_mlp_family(**DATA_SIZES[size], slots=arch.slots(budget), **arch.to_dict())


def edits(arch: Architecture, rng: random.Random) -> list[tuple[str, Architecture]]:
    """Every one-field change of ``arch`` (label, child): depth +-1, width up or down the
    ``WIDTHS`` ladder, another activation, LayerNorm or residual toggled, the init or output
    scale times exp(N(0, 0.5))."""
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
        ("init scale", replace(arch, init_scale=scaled(arch.init_scale, rng))),
        ("output scale", replace(arch, output_scale=scaled(arch.output_scale, rng))),
    ]
    return [(what, child) for what, child in options if child != arch]


def random_architecture(rng: random.Random) -> Architecture:
    """A varied starting point: 1-4 layers of a width up to 128, any activation, norm and
    residual, an init scale around 1 (the caller redraws until it fits a budget)."""
    return Architecture(
        depth=rng.randint(1, 4),
        width=rng.choice(WIDTHS[:5]),
        activation=rng.choice(sorted(ACTIVATIONS)),
        norm=rng.choice(NORMS),
        residual=rng.random() < 0.5,
        init_scale=scaled(1.0, rng),
        output_scale=1.0,
    )


def shapes(budget: int) -> list[tuple[int, int]]:
    """Every shape (``Architecture.shape``: slots, width) a run within ``budget`` parameters can meet:
    one per width on the ladder, plus the network without hidden layers."""
    fitting = {Architecture(depth=d, width=w).shape(budget) for d in range(MAX_DEPTH + 1) for w in WIDTHS
               if Architecture(depth=d, width=w).n_params() <= budget}
    return sorted(fitting)


MLP_FAMILY = Family(
    name="mlp",
    genes=Architecture,
    task="mlp_family",
    description="MLP on MNIST-1D: depth, width, activation, LayerNorm, residual, init and output scale",
    build=lambda arch, size="small", budget=None: from_architecture(arch, size, budget=budget),
    random=random_architecture,
    edits=edits,
    shapes=shapes,
)
