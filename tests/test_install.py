"""The suite runs on the locked versions the documented numbers were measured with."""

import re
from importlib import metadata
from pathlib import Path

import pytest

CONSTRAINTS = Path(__file__).parents[1] / "constraints.txt"


def locked() -> dict[str, str]:
    pins = {}
    for line in CONSTRAINTS.read_text().splitlines():
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line.strip())
        if match:
            pins[match[1]] = match[2]
    return pins


def test_the_lock_pins_every_dependency_the_package_declares():
    pins = {re.sub(r"[-_.]+", "-", name).lower() for name in locked()}
    declared = metadata.requires("optimizer-discovery") or []
    names = {re.sub(r"[-_.]+", "-", re.match(r"[A-Za-z0-9_.-]+", r)[0]).lower() for r in declared}
    assert names and names <= pins, f"constraints.txt lacks {sorted(names - pins)}"


@pytest.mark.parametrize("name", ["jax", "jaxlib", "optax", "numpy", "deap", "msgpack", "nbclient", "mkdocs",
                                  "mkdocs-material", "mkdocstrings"])
def test_the_running_environment_is_the_locked_one(name):
    want = locked()[name]
    assert metadata.version(name) == want, (
        f"{name} {metadata.version(name)} is installed, constraints.txt locks {want}: "
        "install with `make test` (pip install -c constraints.txt)")
