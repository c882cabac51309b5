"""MNIST-1D classification with a fixed ReLU MLP.

logits = MLP(x) with layers 40 -> hidden... -> 10 (He init), loss = mean
softmax cross-entropy; ~9.7k params at the default (100, 50) hidden sizes.
"""

from __future__ import annotations

from .base import Task, sized
from .mlp import apply_mlp, init_mlp
from .mnist1d_data import N_CLASSES, N_FEATURES, mnist1d_classifier

SIZES = {
    "small": {"hidden": [32], "num_samples": 1000, "batch_size": 50, "seed": 42},
    "default": {"hidden": [100, 50], "num_samples": 5000, "batch_size": 100, "seed": 42},
}


@sized
def make_mnist1d_mlp(*, hidden: list[int], num_samples: int, batch_size: int, seed: int) -> Task:
    """The MLP classifier task; ``num_samples`` MNIST-1D examples, 80% train."""
    layer_sizes = (N_FEATURES, *hidden, N_CLASSES)
    return mnist1d_classifier("mnist1d_mlp", f"MNIST-1D, ReLU MLP {'-'.join(map(str, layer_sizes))}, cross-entropy",
                              lambda key, _: init_mlp(key, layer_sizes), apply_mlp, num_samples, batch_size, seed)
