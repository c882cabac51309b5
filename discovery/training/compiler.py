"""How every training the tool scores is compiled, and why.

XLA:CPU in jaxlib 0.10.x (not 0.4.38 to 0.9.2) fuses dots together with the reductions and
elementwise work around them into YNNPACK kernels. Some of those compiled executables
compute wrong numbers: on ``softmax_regression`` a few percent of the compilations of an
ordinary training return a NaN initial loss for every lane, on every call, and a tiny
evolution run's hall of fame changes when the cores are busy. Compiled without YNNPACK
fusions (``xla_cpu_experimental_ynn_fusion_type`` set to the empty list) no compilation
of the suite disagreed with another (``docs/reliability.md``; ``docs/xla-cpu-ynn-fault.md``
is the write-up with a reproduction in plain JAX).

``jit`` is ``jax.jit`` with that option; jaxlib releases before 0.8 neither have the
option nor the fusions, and get plain ``jax.jit``.
"""

from __future__ import annotations

from collections.abc import Callable

import jax
import jaxlib

YNN_OPTION = "xla_cpu_experimental_ynn_fusion_type"
_HAS_YNN = tuple(int(x) for x in jaxlib.__version__.split(".")[:2]) >= (0, 8)
COMPILER_OPTIONS: dict[str, str] = {YNN_OPTION: ""} if _HAS_YNN else {}


def jit(fn: Callable, **kwargs) -> Callable:
    """``jax.jit(fn, **kwargs)`` compiled with ``COMPILER_OPTIONS``."""
    return jax.jit(fn, compiler_options=COMPILER_OPTIONS or None, **kwargs)
