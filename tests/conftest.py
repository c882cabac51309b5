import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# Deterministic property tests: CI must not be flaky.
settings.register_profile("default", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


# The slowest modules (minutes of compilation each) run first, so that the two xdist workers
# (one module each at a time: --dist loadscope) finish together.
SLOWEST_FIRST = ("test_hypothesis", "test_scaleout", "test_runs", "test_architecture_data",
                 "test_coevolution", "test_custom_tasks", "test_inspect_export", "test_hostile_cli")


def pytest_collection_modifyitems(items):
    def rank(item) -> int:
        module = item.nodeid.split("::")[0].rsplit("/", 1)[-1].removesuffix(".py")
        return SLOWEST_FIRST.index(module) if module in SLOWEST_FIRST else len(SLOWEST_FIRST)

    items.sort(key=rank)


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
