"""The advice for a task named by import path that cannot be imported works when followed.

The installed ``discovery`` command does not look in the working folder (a module in a
downloaded run folder must not shadow a real one); the error says so and names two ways
that work, and this test runs both (the third, pip installing the module's package, is
left out: it would change the environment the suite runs in).
"""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from discovery import tasks

ROOT = Path(__file__).parents[1]
REACHED = "factory reached: hinted_task imported"
DISCOVERY = shutil.which("discovery", path=str(Path(sys.executable).parent))


def _run(argv: list[str], cwd: Path, pythonpath: str = "") -> subprocess.CompletedProcess:
    # ROOT on the path so that the command runs this checkout (CI installs it editable anyway).
    env = {"JAX_PLATFORMS": "cpu", "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
           "PYTHONPATH": os.pathsep.join(p for p in (pythonpath, str(ROOT)) if p)}
    return subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture
def folder(tmp_path) -> Path:
    """A folder holding a task module whose factory announces that it was imported."""
    home = tmp_path / "my project"
    home.mkdir()
    (home / "hinted_task.py").write_text(f"def make():\n    raise ValueError({REACHED!r})\n")
    return home


@pytest.mark.skipif(DISCOVERY is None, reason="the discovery console script is not installed here")
def test_the_hint_for_an_unimportable_task_works_when_followed(folder, tmp_path):
    argv = ["run", "--tasks", "hinted_task:make", "--held-out", "", "--generations", "1",
            "--out", str(tmp_path / "runs")]
    failed = _run([DISCOVERY, *argv], cwd=folder)  # from the folder that holds it: not found
    assert failed.returncode == 2, failed.stderr
    message = failed.stderr.strip()
    assert "\n" not in message and "module 'hinted_task' cannot be imported" in message
    assert "the `discovery` command does not look in the current folder" in message

    hinted = re.search(r"\(PYTHONPATH=(\S+) discovery \.\.\.\)", message)
    assert hinted and "`python -m discovery.cli ...` from that folder" in message
    by_path = _run([DISCOVERY, *argv], cwd=tmp_path,
                   pythonpath=hinted[1].replace("/path/to/that/folder", str(folder)))
    assert REACHED in by_path.stderr, by_path.stderr
    by_module = _run([sys.executable, "-m", "discovery.cli", *argv], cwd=folder)
    assert REACHED in by_module.stderr, by_module.stderr


def test_a_module_that_is_found_but_fails_to_import_says_why(tmp_path, monkeypatch):
    (tmp_path / "broken_task.py").write_text("import no_such_dependency_xyz\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(ValueError) as e:
        tasks.get("broken_task:make")
    text = str(e.value)
    assert "module 'broken_task' was found but its import failed" in text
    assert "No module named 'no_such_dependency_xyz'" in text and "PYTHONPATH" not in text
    with pytest.raises(ValueError, match="family 'no_such_family_module:F': module 'no_such_family_module' "
                                         "cannot be imported"):
        tasks.family("no_such_family_module:F")
