"""The Optax optimizers every comparison is made against, each with its default learning rate
and where that default comes from: one table for the baselines, the hypothesis experiment's
panel and Adam's reference in every fitness (``evaluation.evaluator``)."""

from __future__ import annotations

import dataclasses
import functools

import optax

from discovery.training import trainer


@dataclasses.dataclass(frozen=True)
class Baseline:
    """An optimizer (an Optax factory ``lr -> GradientTransformation``, or a ``dsl.Rule``),
    its default lr and where it comes from."""

    optimizer: trainer.OptimizerSpec
    default_lr: float
    source: str


# Every other hyper-parameter is Optax's default (e.g. adamw weight decay 1e-4,
# lion weight decay 1e-3, adagrad initial accumulator 0.1, rmsprop decay 0.9).
OPTIMIZERS: dict[str, Baseline] = {
    "adam": Baseline(optax.adam, 1e-3, "Kingma & Ba 2015, Algorithm 1: alpha = 0.001"),
    "adamw": Baseline(optax.adamw, 1e-3, "PyTorch torch.optim.AdamW: lr=1e-3"),
    "sgd": Baseline(optax.sgd, 1e-2, "Keras SGD: learning_rate=0.01"),
    "momentum": Baseline(
        functools.partial(optax.sgd, momentum=0.9), 1e-2,
        "Keras SGD: learning_rate=0.01 (momentum 0.9)",
    ),
    "nesterov": Baseline(
        functools.partial(optax.sgd, momentum=0.9, nesterov=True), 1e-2,
        "Keras SGD: learning_rate=0.01 (momentum 0.9, nesterov=True)",
    ),
    "rmsprop": Baseline(optax.rmsprop, 1e-3, "Keras RMSprop: learning_rate=0.001"),
    "adagrad": Baseline(optax.adagrad, 1e-2, "PyTorch torch.optim.Adagrad: lr=1e-2"),
    "lion": Baseline(
        optax.lion, 1e-4,
        "lion-pytorch (Chen et al. 2023 advise 3-10x below AdamW's lr): lr=1e-4",
    ),
    "adabelief": Baseline(optax.adabelief, 1e-3, "Zhuang et al. 2020, adabelief-pytorch: lr=1e-3"),
}
