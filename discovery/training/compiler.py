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

Compiled once per machine: the first ``jit`` of a process points JAX's persistent compilation
cache at ``cache_folder()`` (``$XDG_CACHE_HOME/optimizer-discovery``, or ``~/.cache/...``; the
environment variable ``DISCOVERY_COMPILATION_CACHE`` names another folder, or ``off``; a run's
``[evaluation] compilation_cache = false`` switches it off for its process), so a second run
loads every executable a first one compiled. The folder is named by the jax and jaxlib versions,
and JAX keys each entry by the computation, the compiler options and ``XLA_FLAGS``: another
version or flag never loads a stale executable. A cache folder JAX was already given
(``JAX_COMPILATION_CACHE_DIR``, as the tests set) is kept.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import jax
import jaxlib
from jax.experimental.compilation_cache import compilation_cache

YNN_OPTION = "xla_cpu_experimental_ynn_fusion_type"
_HAS_YNN = tuple(int(x) for x in jaxlib.__version__.split(".")[:2]) >= (0, 8)
COMPILER_OPTIONS: dict[str, str] = {YNN_OPTION: ""} if _HAS_YNN else {}


CACHE_ENV = "DISCOVERY_COMPILATION_CACHE"
_OFF = ("0", "off", "false", "no")
_settled = False  # whether this process chose its cache folder yet


def cache_folder() -> Path | None:
    """Where compiled executables are kept across processes (``None``: switched off by
    ``DISCOVERY_COMPILATION_CACHE=off``)."""
    value = os.environ.get(CACHE_ENV, "").strip()
    if value.lower() in _OFF:
        return None
    base = Path(value).expanduser() if value else (
        Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "optimizer-discovery")
    return base / f"jax-{jax.__version__}-jaxlib-{jaxlib.__version__}"


def use_compilation_cache(enabled: bool = True) -> Path | None:
    """Keep the compilations that follow in ``cache_folder()`` (every one, however short, so a
    second run compiles nothing new), or in none if not ``enabled``; return the folder in use.
    A folder given to JAX from outside (``JAX_COMPILATION_CACHE_DIR``) is kept."""
    global _settled
    _settled = True
    folder = cache_folder() if enabled else None
    wanted = None if folder is None else str(folder)
    if not os.environ.get("JAX_COMPILATION_CACHE_DIR") and wanted != jax.config.jax_compilation_cache_dir:
        jax.config.update("jax_compilation_cache_dir", wanted)
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
        jax.config.update("jax_persistent_cache_min_entry_size_bytes", 0)
        compilation_cache.reset_cache()  # JAX decides once per process otherwise
    folder = jax.config.jax_compilation_cache_dir
    return Path(folder) if folder and jax.config.jax_enable_compilation_cache else None


@contextlib.contextmanager
def without_persistent_cache() -> Iterator[None]:
    """Compilations inside compile for real, neither loaded from nor written to the persistent
    cache: what measuring the cost of compiling a *new* computation needs (a cache hit would
    time a load). The cache is back, as it was, on exit."""
    enabled = jax.config.jax_enable_compilation_cache
    jax.config.update("jax_enable_compilation_cache", False)
    compilation_cache.reset_cache()  # JAX decides whether to use the cache once otherwise
    try:
        yield
    finally:
        jax.config.update("jax_enable_compilation_cache", enabled)
        compilation_cache.reset_cache()


def jit(fn: Callable, **kwargs) -> Callable:
    """``jax.jit(fn, **kwargs)`` compiled with ``COMPILER_OPTIONS``, through the persistent cache."""
    if not _settled:
        use_compilation_cache()
    return jax.jit(fn, compiler_options=COMPILER_OPTIONS or None, **kwargs)
