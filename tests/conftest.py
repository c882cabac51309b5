import os
import shutil
from pathlib import Path

import pytest
from hypothesis import settings

# Deterministic property tests: CI must not be flaky.
settings.register_profile("default", derandomize=True, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


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
