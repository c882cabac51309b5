"""An architecture family written in one module, as a researcher would add one (docs/coevolution.md: "Adding a
family"): a one-hidden-layer MLP on the Zipf classification data whose width is its shape and whose
init and output scales are data.

Use it by import path, in any process that can import this module::

    [coevolution]
    family = "tests.example_family:FAMILY"

or register it under a short name: ``discovery.tasks.register_family(FAMILY)``.
"""

from __future__ import annotations

import dataclasses
import math

import jax
import jax.numpy as jnp

from discovery.tasks import Family, GenesRecord, Task
from discovery.tasks.base import float32
from discovery.tasks.classification import kl_from_truth
from discovery.tasks.family import ladder, scale
from discovery.tasks.zipf_classification import SIZES
from discovery.tasks.zipf_data import classification_teacher


@dataclasses.dataclass(frozen=True)
class ZipfMLPGenes(GenesRecord):
    FAMILY = "example_zipf_mlp"

    hidden: int = ladder(32, (16, 32, 64), "hidden ReLU units (the shape)")
    init_scale: float = scale(1.0, doc="multiplier on the He init of the hidden layer")
    output_scale: float = scale(1.0, doc="multiplier on the logits")

    def n_params(self) -> int:
        dim, classes = SIZES["small"]["dim"], SIZES["small"]["classes"]
        return dim * self.hidden + self.hidden + self.hidden * classes + classes

    def shape(self, budget: int | None = None) -> tuple[int]:
        return (self.hidden,)


def build(genes: ZipfMLPGenes, size: str = "small", budget: int | None = None) -> Task:
    """The task of ``genes``: only ``hidden`` is code, the scales travel in the data."""
    sizes = SIZES["small"]  # the genes' parameter count assumes the small data's dims at every size
    dim, classes, hidden = sizes["dim"], sizes["classes"], genes.hidden
    teacher = {k: sizes[k] for k in ("dim", "classes", "beta", "exponent", "seed")}
    x, log_p = classification_teacher(sizes["n_examples"], **teacher)
    x_test, log_p_test = classification_teacher(512, **teacher)
    arch = {"init_std": float32(genes.init_scale * math.sqrt(2.0 / dim)), "output_scale": float32(genes.output_scale)}

    def init(key, data):
        k1, k2 = jax.random.split(key)
        return {"w1": data["arch"]["init_std"] * jax.random.normal(k1, (dim, hidden), jnp.float32),
                "b1": jnp.zeros((hidden,), jnp.float32),
                "w2": jax.random.normal(k2, (hidden, classes), jnp.float32) / math.sqrt(hidden),
                "b2": jnp.zeros((classes,), jnp.float32)}

    def loss(params, data):
        h = jax.nn.relu(data["x"] @ params["w1"] + params["b1"])
        logits = data["arch"]["output_scale"] * (h @ params["w2"] + params["b2"])
        return kl_from_truth(jax.nn.log_softmax(logits), data["log_p"])

    return Task(name="example_zipf_mlp", kind="deep", description=f"example family: {genes.summary()}",
                sizes={"hidden": hidden, **{k: getattr(genes, k) for k in ("init_scale", "output_scale")}},
                init=init, loss=loss,
                train_data={"x": float32(x), "log_p": float32(log_p), "arch": arch},
                test_data={"x": float32(x_test), "log_p": float32(log_p_test), "arch": arch},
                sample_batch=lambda data, key: data,
                metrics=lambda params, data: {"test_loss": loss(params, data)},
                f_star=None, batch_size=None, data_sizes=frozenset({"init_scale", "output_scale"}))


FAMILY = Family(
    name="example_zipf_mlp",
    genes=ZipfMLPGenes,
    task="zipf_mlp",
    description="example: one hidden ReLU layer on the Zipf classification data",
    build=build,
    random=ZipfMLPGenes.random,
    edits=lambda genes, rng: genes.edits(rng),
    shapes=lambda budget: sorted({ZipfMLPGenes(hidden=h).shape() for h in (16, 32, 64)
                                  if ZipfMLPGenes(hidden=h).n_params() <= budget}),
)
