"""Run configuration: presets, a TOML file, command-line overrides, validation.

A config is plain data (sections of scalars and lists), validated before
anything runs: unknown keys, wrong types and unknown tasks are errors that
name the key and say what is allowed.
"""

from __future__ import annotations

import copy
import re
import tomllib
from pathlib import Path
from typing import Any

import tomli_w

import dsl
from discovery import scoring, tasks
from discovery.search.architectures import n_params as architecture_params
from discovery.tasks import Architecture

MODES = ("regularized", "mu_plus_lambda")
COEVOLUTION_MODES = ("rules", "architectures", "joint")
BACKENDS = ("inprocess", "ray")
PATHS = ("auto", "interpreter", "native")

DEFAULTS: dict[str, dict[str, Any]] = {
    "run": {
        "name": "run",
        "seed": 0,
        "generations": 10,
        "population": 16,  # population size; also children bred per generation
        "mode": "regularized",
        "tournament": 4,
        "crossover_prob": 0.2,
        "warm_start": ["adam"],  # library rules; [] starts from random rules
        "restart_every": 0,  # generations between restarts from the best (0: never)
    },
    "tasks": {
        "search": ["quadratic_ill", "mf_k4", "mnist1d_mlp"],
        "held_out": ["mf_k1", "rosenbrock", "mnist1d_cnn"],
        "size": "small",
    },
    "protocol": {
        "learning_rates": list(scoring.DEFAULT_LEARNING_RATES),
        "seeds": [0, 1],
        "steps": 100,
        "held_out_steps": 300,
    },
    "evaluation": {
        "path": "auto",  # auto: the cost model picks interpreter or native per task
        "hurdle": 1.0,  # log10 ratio vs Adam on the first task above which a candidate stops
        "hall_of_fame": 10,
        "backend": "inprocess",  # or "ray": actors on a Ray cluster (pip install '.[ray]')
        "address": "",  # ray only: "" starts a local cluster, "auto" or "HOST:PORT" joins one
    },
    "coevolution": {
        "mode": "rules",  # rules | architectures (rule held fixed) | joint
        "fixed_rule": "adam",  # the rule held fixed in "architectures" mode
        "start_architectures": "default",  # "default" (the family default) or "varied"
        "param_budget": 20000,  # no architecture may have more parameters
        "architecture_prob": 0.5,  # joint: share of children varying the architecture
    },
}

PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "quick": {
        "run": {"name": "quick", "generations": 40, "population": 32},
        "tasks": {"search": ["quadratic_ill", "mf_k4", "klr_mushrooms"],
                  "held_out": ["mf_k1", "rosenbrock"], "size": "small"},
        "protocol": {"learning_rates": list(scoring.DEFAULT_LEARNING_RATES[2:]), "steps": 100,
                     "held_out_steps": 300},
    },
    "standard": {
        "run": {"name": "standard", "generations": 50, "population": 32},
        "tasks": {"search": ["quadratic_ill", "mf_k4", "klr_mushrooms", "mnist1d_mlp"],
                  "held_out": ["mf_k1", "rosenbrock", "klr_w8a", "mnist1d_cnn"],
                  "size": "default"},
        "protocol": {"steps": 300, "held_out_steps": 1000},
    },
}


def merge(base: dict, override: dict, where: str = "") -> dict:
    """``base`` with ``override`` applied section by section; unknown keys are errors."""
    out = copy.deepcopy(base)
    for section, values in override.items():
        if section not in DEFAULTS:
            raise ValueError(f"unknown config section [{section}]{where}; sections: {list(DEFAULTS)}")
        if not isinstance(values, dict):
            raise ValueError(f"config section [{section}]{where} must be a table")
        for key, value in values.items():
            if key not in DEFAULTS[section]:
                raise ValueError(
                    f"unknown key '{key}' in [{section}]{where}; keys: {list(DEFAULTS[section])}"
                )
            out[section][key] = value
    return out


def load(path: str | Path | None = None, preset: str | None = None, **overrides) -> dict:
    """Defaults, then ``preset``, then the TOML file, then ``overrides`` (``section.key`` names)."""
    config = copy.deepcopy(DEFAULTS)
    if preset is not None:
        if preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; presets: {list(PRESETS)}")
        config = merge(config, PRESETS[preset])
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        try:
            data = tomllib.loads(path.read_text())
        except tomllib.TOMLDecodeError as e:
            raise ValueError(f"{path}: invalid TOML: {e}") from None
        config = merge(config, data, f" of {path}")
    nested: dict[str, dict] = {}
    for dotted, value in overrides.items():
        section, _, key = dotted.partition(".")
        nested.setdefault(section, {})[key] = value
    config = merge(config, nested)
    validate(config)
    return config


def _check(config: dict, section: str, key: str, kind, predicate=None, allowed: str = "") -> None:
    value = config[section][key]
    kinds = kind if isinstance(kind, tuple) else (kind,)
    ok = isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)
    if not ok or (predicate is not None and not predicate(value)):
        raise ValueError(f"[{section}] {key} = {value!r} is invalid: expected {allowed}")


def _list_of(kind, predicate=lambda _: True):
    return lambda xs: all(isinstance(x, kind) and not isinstance(x, bool) and predicate(x) for x in xs)


def validate(config: dict) -> None:
    """Raise ValueError naming the first bad key; return None if the config is usable."""
    _check(config, "run", "name", str, lambda s: s.replace("-", "").replace("_", "").isalnum(),
           "letters, digits, '-' or '_'")
    _check(config, "run", "seed", int, lambda x: x >= 0, "an integer >= 0")
    _check(config, "run", "generations", int, lambda x: x >= 1, "an integer >= 1")
    _check(config, "run", "population", int, lambda x: x >= 2, "an integer >= 2")
    _check(config, "run", "mode", str, lambda x: x in MODES, f"one of {MODES}")
    _check(config, "run", "tournament", int, lambda x: 1 <= x <= config["run"]["population"],
           "an integer between 1 and the population size")
    _check(config, "run", "crossover_prob", (int, float), lambda x: 0 <= x <= 1, "a number in [0, 1]")
    _check(config, "run", "warm_start", list, _list_of(str, lambda n: n in dsl.library.names()),
           f"a list of library rules from {dsl.library.names()}")
    _check(config, "run", "restart_every", int, lambda x: x >= 0, "an integer >= 0")
    known = tasks.names()
    for key in ("search", "held_out"):
        _check(config, "tasks", key, list, _list_of(str, lambda n: n in known), f"task names from {known}")
    if not config["tasks"]["search"]:
        raise ValueError("[tasks] search is empty: list at least one task")
    _check(config, "tasks", "size", str, lambda s: s in ("small", "default"), "'small' or 'default'")
    _check(config, "protocol", "learning_rates", list, _list_of((int, float), lambda x: x > 0),
           "a non-empty list of positive numbers")
    _check(config, "protocol", "seeds", list, _list_of(int, lambda x: x >= 0), "a list of integers >= 0")
    if not config["protocol"]["learning_rates"] or not config["protocol"]["seeds"]:
        raise ValueError("[protocol] learning_rates and seeds must not be empty")
    _check(config, "protocol", "steps", int, lambda x: x >= 1, "an integer >= 1")
    _check(config, "protocol", "held_out_steps", int, lambda x: x >= 1, "an integer >= 1")
    _check(config, "evaluation", "path", str, lambda x: x in PATHS, f"one of {PATHS}")
    _check(config, "evaluation", "hurdle", (int, float), None, "a number (log10 ratio vs Adam)")
    _check(config, "evaluation", "hall_of_fame", int, lambda x: x >= 1, "an integer >= 1")
    _check(config, "evaluation", "backend", str, lambda x: x in BACKENDS, f"one of {BACKENDS}")
    _check(config, "evaluation", "address", str,
           lambda x: x in ("", "auto") or re.fullmatch(r"(ray://)?[^\s:]+:\d+", x),
           "'' (a local Ray), 'auto' or HOST:PORT of a Ray cluster")
    if config["evaluation"]["address"] and config["evaluation"]["backend"] != "ray":
        raise ValueError(f"[evaluation] address = {config['evaluation']['address']!r} needs backend = 'ray'")
    _check(config, "coevolution", "mode", str, lambda x: x in COEVOLUTION_MODES,
           f"one of {COEVOLUTION_MODES}")
    _check(config, "coevolution", "fixed_rule", str, lambda n: n in dsl.library.names(),
           f"a library rule from {dsl.library.names()}")
    _check(config, "coevolution", "start_architectures", str, lambda x: x in ("default", "varied"),
           "'default' or 'varied'")
    _check(config, "coevolution", "param_budget", int, lambda x: x >= 1000, "an integer >= 1000")
    _check(config, "coevolution", "architecture_prob", (int, float), lambda x: 0 <= x <= 1,
           "a number in [0, 1]")
    coevo = config["coevolution"]
    default_size = architecture_params(Architecture())
    if coevo["mode"] != "rules" and coevo["start_architectures"] == "default" and (
            default_size > coevo["param_budget"]):
        raise ValueError(f"[coevolution] param_budget = {coevo['param_budget']} is below the default "
                         f"architecture's {default_size} parameters: raise it or start 'varied'")


def protocol(config: dict, held_out: bool = False) -> scoring.Protocol:
    p = config["protocol"]
    return scoring.Protocol(
        learning_rates=tuple(float(x) for x in p["learning_rates"]),
        seeds=tuple(p["seeds"]),
        steps=p["held_out_steps"] if held_out else p["steps"],
    )


def dumps(config: dict) -> str:
    return tomli_w.dumps(config)


def loads(text: str, where: str = "config") -> dict:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{where}: invalid TOML: {e}") from None
    config = merge(DEFAULTS, data, f" of {where}")
    validate(config)
    return config
