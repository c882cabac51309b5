import os
import shutil
from pathlib import Path

# Before JAX loads, for this process, the xdist workers and the CLI processes tests start:
# * one persistent compilation cache shared by all of them, so that a computation compiled by
#   one test process is loaded, not compiled again, by the others (the suite's main cost);
# * the tests' own jitted code compiled like the trainer's (discovery/training/compiler.py:
#   no YNNPACK fusions, which jaxlib 0.10.x sometimes miscompiles).
ROOT = Path(__file__).parents[1]
os.environ.setdefault("JAX_COMPILATION_CACHE_DIR", str(ROOT / ".pytest_cache" / "jax-compilation-cache"))
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0.1")
os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")
if "xla_cpu_experimental_ynn_fusion_type" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " --xla_cpu_experimental_ynn_fusion_type=").strip()

import pytest  # noqa: E402
from hypothesis import settings  # noqa: E402

# Deterministic property tests: CI must not be flaky.
settings.register_profile("default", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# The slowest modules (minutes of compilation each) run first, so that the two xdist workers
# (one module each at a time: --dist loadscope) finish together.
SLOWEST_FIRST = ("test_hypothesis", "test_scaleout", "test_runs", "test_architecture_data",
                 "test_coevolution", "test_custom_tasks", "test_examples", "test_packed_probes",
                 "test_search_speed", "test_inspect_export", "test_hostile_cli")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        return SLOWEST_FIRST.index(module) if module in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory):
    """The tiny run, uninterrupted (read-only): what the golden snapshot pins, and what a resumed
    run must equal exactly on this machine."""
    from discovery import runs
    from tests.tiny import tiny

    return runs.run(tiny(), out=tmp_path_factory.mktemp("tiny"), progress=False)


@pytest.fixture(scope="session")
def stopped_run(tmp_path_factory) -> Path:
    """A tiny run stopped after 2 of its 3 generations: two checkpoints and a log (read-only:
    tests that change it take ``run_copy``)."""
    from discovery import runs
    from tests.tiny import tiny

    return runs.run(tiny(), out=tmp_path_factory.mktemp("stopped"), progress=False, stop_after=2).path


@pytest.fixture
def run_copy(stopped_run, tmp_path) -> Path:
    """A private copy of ``stopped_run``, to damage."""
    return Path(shutil.copytree(stopped_run, tmp_path / "copy" / stopped_run.name))
