"""The hypothesis experiment: did architectures evolve to make Adam look best?

(Orabona, "Neural Networks (Maybe) Evolved to Make Adam The Best Optimizer".)
Arms, each an evolution run with the same population, generations, steps,
starting grid and parameter budget, repeated for every seed:

* ``arch-<f>``     architectures evolve with optimizer ``f`` held fixed, for every ``f``
                   of ``Preset.fixed`` (Adam, SGD with momentum, Lion, Adagrad);
* ``joint-noadam`` rules and architectures evolve jointly from starts without Adam;
* ``joint-random`` the same from random rules;
* ``nondeep``      rules evolve on the non-deep suite;
* ``positive-arch-<f>``, ``negative-arch-<f>`` for ``f`` in ``Preset.control_fixed``: the
                   controls, the same architecture arms on the family's control families
                   (``tasks.control_family``): a planted gene with a known home advantage
                   (``PLANTED``'s), and one that moves every optimizer alike.

Each arm is an ``Arm`` record (name, config overrides, how its result is summarized), and a
seed's result maps arm names to ``findings.ArmResult``: a new arm is one entry in ``arms``.

Then panels, every optimizer of ``PANEL`` fairly tuned (``tuning.tune``:
natural scale, bracketing) and scored by log10 of its loss:

* ``cross-<f>``  on each of the top ``Preset.top_k`` architectures of ``arch-<f>``
                 (held-out loss, one value per training seed); ``cross-<control>-<f>`` the
                 same with ``Preset.control_panel`` on a control's arms;
* ``nondeep``    on each non-deep task (f - f*, or the training loss), tuned and at
                 the optimizer's default learning rate.

Each seed is an independent replicate: its own evolution runs, and panels trained with
its own training seeds (``Experiment.panel_seeds``). Everything is written under ``--out``: ``experiment.json`` (the preset),
``runs/<arm>-s<seed>-...`` (run folders) and ``cells/<panel>-s<seed>.json``;
a second call with the same ``--out`` resumes each unfinished run and skips
finished panels, and gives the same report as an uninterrupted one; a call with
more ``seeds`` reuses the finished ones and adds the others. With
``backend="ray"`` the evolution runs and the architecture panels go to Ray
(the small non-deep panels run in-process). The statistics and the report are
in ``findings``.

The architectures come from the preset's ``family`` (``tasks.family``: "mlp", the
MNIST-1D MLP, by default; "token_model", the token model on the Zipf stream;
``--family`` on the command line): every arm's config and every panel use it.
"""

from __future__ import annotations

import dataclasses
import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import dsl
from discovery import config as config_lib
from discovery import runs, tasks
from discovery.analysis import outputs
from discovery.analysis.baselines import OPTIMIZERS
from discovery.evaluation.backends import make_backend
from discovery.evaluation.evaluator import Evaluator
from discovery.experiments import findings
from discovery.experiments.findings import ArmResult, Cell
from discovery.records import encode_candidate
from discovery.runs.progress import Progress
from discovery.runs.store import RunStore
from discovery.training import scoring, tuning
from dsl.probe import similarity

PANEL = tuple(OPTIMIZERS)  # adam adamw sgd momentum nesterov rmsprop adagrad lion adabelief
NO_ADAM_STARTS = ("momentum", "lion", "signum", "rmsprop", "sgd", "adagrad")
NONDEEP_STARTS = ("adam", "momentum", "lion", "signum", "rmsprop", "sgd")
REFERENCES = ("adam", "lion", "momentum")  # distances of the joint arms' best rules to these
# How the joint arms search rules: from building blocks, with cheap screening (training.fitness
# grades every candidate, so a search from scratch is not a coin toss on a flat landscape).
JOINT_SEARCH = {"variation.vocabulary": "blocks", "screening.promote": 0.25}
CONTROL_KINDS = ("positive", "negative")
# The optimizer whose home advantage the positive control plants (its gene hurts SGD-type methods).
PLANTED = "momentum"


@dataclasses.dataclass(frozen=True)
class Arm:
    """One arm: an evolution run per seed (``overrides`` of the experiment's config) and how its
    result is summarized (``kind``): ``"architectures"``, the panel ``panel`` tuned on its top
    architectures (``fixed``: the optimizer held fixed while they evolved); ``"joint"``, the
    Adam-like share per generation and the best rule's distances; ``"rules"``, the best rule,
    and the panel on the non-deep tasks. ``group``: "" for the experiment itself, else the control
    (``CONTROL_KINDS``) the arm belongs to, evolving its family's control gene."""

    name: str
    kind: str
    overrides: tuple[tuple[str, Any], ...] = ()
    fixed: str | None = None
    panel: tuple[str, ...] = ()
    group: str = ""

    @property
    def units(self) -> int:
        """Steps of progress: the run, and its panel if it has one."""
        return 1 if self.kind == "joint" else 2


@dataclasses.dataclass(frozen=True)
class Preset:
    """The experiment's size: every arm gets the same budget."""

    seeds: int
    population: int
    generations: int
    steps: int
    size: str
    learning_rates: tuple[float, ...]
    train_seeds: tuple[int, ...]
    nondeep: tuple[str, ...]
    param_budget: int
    fixed: tuple[str, ...] = ("adam", "momentum", "lion", "adagrad")
    panel: tuple[str, ...] = PANEL
    top_k: int = 3
    expected: str = ""
    family: str = tasks.DEFAULT_FAMILY
    controls: tuple[str, ...] = ("positive", "negative")  # run where the family has them
    control_fixed: tuple[str, ...] = ("adam", "momentum")
    control_panel: tuple[str, ...] = ("adam", "momentum", "sgd", "adabelief")

    def __post_init__(self):
        if not tasks.is_known_family(self.family):
            raise ValueError(f"unknown architecture family {self.family!r}; valid families: "
                             f"{tasks.family_names()}")
        unknown = [n for n in (*self.fixed, *self.panel, *self.control_fixed, *self.control_panel)
                   if n not in OPTIMIZERS]
        if unknown or "adam" not in self.fixed or self.panel[0] != "adam" or not set(self.fixed) <= set(self.panel) or (
                not set(self.control_fixed) <= set(self.control_panel)):
            raise ValueError(f"fixed {self.fixed} and panel {self.panel} must be Optax baselines "
                             f"({list(OPTIMIZERS)}): adam fixed and first in the panel, every fixed "
                             f"one in the panel, and each of control_fixed {self.control_fixed} in "
                             f"control_panel {self.control_panel}")
        if unknown_controls := set(self.controls) - set(CONTROL_KINDS):
            raise ValueError(f"unknown controls {sorted(unknown_controls)}; controls: {list(CONTROL_KINDS)}")

    def to_dict(self) -> dict:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


_SMALL_GRID = (1e-4, 3.16e-4, 1e-3, 3.16e-3, 1e-2, 3.16e-2, 0.1)
PRESETS: dict[str, Preset] = {
    "quick": Preset(seeds=2, population=6, generations=3, steps=60, size="small",
                    learning_rates=_SMALL_GRID[1:-1], train_seeds=(0, 1),
                    nondeep=("quadratic_ill", "mf_k4"), param_budget=20000, top_k=2,
                    expected="pipeline check: about 10 minutes on 2 CPU cores"),
    "medium": Preset(seeds=8, population=12, generations=8, steps=150, size="small",
                     learning_rates=_SMALL_GRID, train_seeds=(0, 1),
                     nondeep=("quadratic_ill", "mf_k4", "klr_mushrooms", "rosenbrock"),
                     param_budget=20000, top_k=3,
                     expected="about an hour on 2 CPU cores"),
    "full": Preset(seeds=5, population=32, generations=40, steps=500, size="default",
                   learning_rates=tuple(scoring.DEFAULT_LEARNING_RATES), train_seeds=(0, 1, 2),
                   nondeep=tuple(tasks.names("nondeep")), param_budget=50000, top_k=5,
                   expected="a GPU or a cluster (--backend ray): not measured, a few hundred times medium's work per seed"),
}

# A preset's size where a family's trainings cost more than the MLP family's (the token model's
# ~20x per candidate): fewer, smaller arms, so that the preset keeps its time on 2 CPU cores.
FAMILY_SIZES: dict[tuple[str, str], dict[str, Any]] = {
    ("medium", "token_model"): dict(seeds=6, population=8, generations=5, top_k=2, param_budget=10000,
                                    fixed=("adam", "momentum"), nondeep=("quadratic_ill", "mf_k4"),
                                    expected="about 90 minutes on 2 CPU cores with --family token_model"),
}


def _log10(x: float) -> float:
    return math.log10(max(x, scoring.FLOOR))


class Experiment:
    """The experiment folder: runs and panels, each computed once and resumed after a crash."""

    def __init__(self, out: str | Path, preset: str | Preset, seeds: int | None = None,
                 backend: str = "inprocess", address: str = "", progress: bool = True,
                 family: str | None = None):
        if isinstance(preset, str) and preset not in PRESETS:
            raise ValueError(f"unknown preset {preset!r}; presets: {list(PRESETS)}")
        preset_name, preset = (preset, PRESETS[preset]) if isinstance(preset, str) else ("custom", preset)
        if family is not None:
            preset = dataclasses.replace(preset, family=family, **FAMILY_SIZES.get((preset_name, family), {}))
        if seeds is not None:
            if seeds < 2:
                raise ValueError(f"--seeds must be >= 2 (intervals need two seeds), got {seeds}")
            preset = dataclasses.replace(preset, seeds=seeds)
        self.out, self.name, self.preset = Path(out), preset_name, preset
        self.backend, self.address, self.progress = backend, address, progress
        self._claim()

    def _claim(self) -> None:
        """Write ``experiment.json``, or check that the folder holds this same experiment."""
        record = {"preset": self.name, "config": self.preset.to_dict()}
        file = self.out / "experiment.json"
        if file.exists():
            try:
                found = json.loads(file.read_text())
            except (OSError, ValueError) as e:
                raise ValueError(f"{file} is not readable ({e}); choose another --out") from None
            if _settings(found) != _settings(record):
                preset = found.get("preset") if isinstance(found, dict) else None
                raise ValueError(f"{self.out} holds another experiment ({preset!r}, other settings); "
                                 "resume it with the same preset (--seeds may differ), or choose another --out")
            if found != record:  # another number of seeds (or note): the finished seeds are reused
                outputs.write_json(file, record)
        else:
            self.out.mkdir(parents=True, exist_ok=True)
            outputs.write_json(file, record)

    # -- configs and runs ----------------------------------------------------------------------

    def config(self, arm: str, seed: int, **overrides) -> config_lib.Config:
        p = self.preset
        return config_lib.load(**{
            "run.name": arm, "run.seed": seed, "run.population": p.population,
            "run.generations": p.generations, "run.tournament": min(4, p.population),
            "protocol.learning_rates": list(p.learning_rates), "protocol.seeds": list(p.train_seeds),
            "protocol.steps": p.steps, "tasks.size": p.size, "tasks.held_out": [],
            "evaluation.path": "interpreter", "evaluation.backend": self.backend,
            "evaluation.address": self.address, "coevolution.param_budget": p.param_budget,
            "coevolution.family": p.family, **overrides})

    def arms(self) -> list[Arm]:
        """Every arm, as data: the fixed-optimizer arms, the joint ones, the non-deep one, then
        each control's fixed-optimizer arms on its family (where the family has controls)."""
        p = self.preset

        def architectures(f: str, prefix: str = "", group: str = "", family: str = p.family,
                          panel: tuple[str, ...] = p.panel) -> Arm:
            return Arm(f"{prefix}arch-{f}", "architectures", (
                ("coevolution.mode", "architectures"), ("coevolution.fixed_rule", f),
                ("coevolution.start_architectures", "varied"), ("coevolution.family", family)),
                fixed=f, panel=panel, group=group)

        joint = (("coevolution.mode", "joint"), ("coevolution.start_architectures", "varied"),
                 *JOINT_SEARCH.items())
        arms = [architectures(f) for f in p.fixed]
        arms += [Arm("joint-noadam", "joint", (*joint, ("run.warm_start", list(NO_ADAM_STARTS)))),
                 Arm("joint-random", "joint", (*joint, ("run.warm_start", []))),
                 Arm("nondeep", "rules", (("tasks.search", list(p.nondeep)),
                                          ("run.warm_start", list(NONDEEP_STARTS))), panel=p.panel)]
        for kind in p.controls:
            family = tasks.control_family(p.family, kind)
            if family is not None:
                arms += [architectures(f, f"{kind}-", kind, family, p.control_panel) for f in p.control_fixed]
        return arms

    def arm(self, name: str) -> Arm:
        return next(a for a in self.arms() if a.name == name)

    def _run_folder(self, arm: str, seed: int) -> Path | None:
        """The arm's run folder for ``seed``, if it was started."""
        folder = self.out / "runs"
        return next(iter(sorted(folder.glob(f"{arm}-s{seed}-*"))), None) if folder.exists() else None

    def _cells_file(self, panel: str, seed: int) -> Path:
        return self.out / "cells" / f"{panel}-s{seed}.json"

    def run_finished(self, arm: str, seed: int) -> bool:
        folder = self._run_folder(arm, seed)
        return folder is not None and (folder / "summary.json").exists()

    def run(self, arm: str, seed: int) -> runs.Run:
        """The arm's run for ``seed``: loaded if finished, resumed if interrupted, else started."""
        folder = self._run_folder(arm, seed)
        if self.run_finished(arm, seed):
            return runs.load_run(folder)
        result = (runs.run(resume=folder, progress=False) if folder is not None else
                  runs.run(self.config(arm, seed, **dict(self.arm(arm).overrides)), out=self.out / "runs",
                           progress=False))
        if result.summary is None:  # Ctrl-C: the run checkpointed and stopped; so does the experiment
            raise KeyboardInterrupt(f"{result.path} interrupted; run the same command again to continue")
        return result

    # -- panels --------------------------------------------------------------------------------

    def cells(self, panel: str, seed: int, compute: Callable[[], list[Cell]]) -> list[Cell]:
        """The panel's cells for ``seed``, computed once (``cells/<panel>-s<seed>.json``)."""
        file = self._cells_file(panel, seed)
        if file.exists():
            return [Cell.from_dict(c) for c in json.loads(file.read_text())["cells"]]
        cells = compute()
        file.parent.mkdir(exist_ok=True)
        outputs.write_json(file, {"panel": panel, "seed": seed, "cells": [c.to_dict() for c in cells]})
        return cells

    def cross_cells(self, run: runs.Run, seed: int, panel: tuple[str, ...] | None = None) -> list[Cell]:
        """Every ``panel`` optimizer (default: the preset's) on the top-k distinct architectures of ``run``."""
        archs = list({c.architecture.key(): c.architecture for c in run.hall_of_fame}.values())
        archs = archs[:self.preset.top_k]
        pairs = [(g, arch) for arch in archs for g in (panel or self.preset.panel)]
        config = self.config("panel", seed, **{"coevolution.mode": "joint", "coevolution.start_architectures": "varied",
                                               "protocol.seeds": list(self.panel_seeds(seed)),
                                               "coevolution.family": run.config.coevolution.family})
        evaluator = Evaluator(config)
        backend = make_backend(config.evaluation.backend, evaluator)
        try:
            results = backend.map([encode_candidate(dsl.library.get(g), arch) for g, arch in pairs])
        finally:
            backend.close()
        return [Cell(g, arch.summary(), tuple(_log10(x) for x in result.tasks["architecture"].per_seed))
                for (g, arch), result in zip(pairs, results)]

    def panel_seeds(self, seed: int) -> tuple[int, ...]:
        """The training seeds of ``seed``'s panels, disjoint from every other seed's: each seed
        is an independent replicate, so intervals over seeds carry the training noise too."""
        stride = max(self.preset.train_seeds) + 1
        return tuple(seed * stride + t for t in self.preset.train_seeds)

    def nondeep_cells(self, seed: int) -> list[Cell]:
        """Every panel optimizer on every non-deep task: tuned, and at its default lr."""
        p = self.preset
        protocol = scoring.Protocol(p.learning_rates, self.panel_seeds(seed), p.steps)
        cells = []
        for name in p.nondeep:
            task = tasks.get(name, p.size)
            adam_lr = None
            for g in self.preset.panel:  # adam first: the others start around its optimum
                s = tuning.tune(dsl.library.get(g), task, protocol, default_lr=OPTIMIZERS[g].default_lr,
                                center=adam_lr).score
                adam_lr = adam_lr or s.tuned_lr
                cells.append(Cell(g, name, tuple(_log10(x) for x in s.tuned_per_seed), _log10(s.out_of_box)))
        return cells

    # -- the whole experiment ------------------------------------------------------------------

    def seed_result(self, seed: int, bar: Progress) -> findings.SeedResult:
        def step(what: str, reused: bool, fn):
            bar.advance(0, status=f"seed {seed}: {what}")
            value = fn()
            bar.advance(1, status=f"seed {seed}: {what} {'loaded' if reused else 'done'}", reused=reused)
            return value

        def cells(panel: str, what: str, compute) -> list[Cell]:
            return step(f"{panel} panel ({what})", self._cells_file(panel, seed).exists(),
                        lambda: self.cells(panel, seed, compute))

        results = {}
        for arm in self.arms():
            run = step(f"{arm.name} ({_DOING[arm.kind]})", self.run_finished(arm.name, seed),
                       lambda arm=arm: self.run(arm.name, seed))
            if arm.kind == "architectures":
                found = cells(f"cross-{arm.name.replace('arch-', '', 1)}",
                              f"every optimizer on {arm.name}'s top {self.preset.top_k}",
                              lambda arm=arm, run=run: self.cross_cells(run, seed, arm.panel))
                results[arm.name] = ArmResult(arm.kind, str(run.path), tuple(found))
            elif arm.kind == "joint":
                results[arm.name] = ArmResult(arm.kind, str(run.path), joint=_joint_summary(run))
            else:
                found = cells("nondeep", "every optimizer on the non-deep tasks", lambda: self.nondeep_cells(seed))
                results[arm.name] = ArmResult(arm.kind, str(run.path), tuple(found), rule=run.candidate(1).text)
        return findings.SeedResult(seed=seed, arms=results)

    def execute(self) -> findings.Report:
        start = time.perf_counter()
        units = self.preset.seeds * sum(arm.units for arm in self.arms())
        with Progress(units, f"hypothesis ({self.name})", stream=None if self.progress else _Quiet()) as bar:
            seeds = [self.seed_result(seed, bar) for seed in range(self.preset.seeds)]
        report = findings.analyse(self.name, self.preset.to_dict(), seeds, self.arms(), self.preset.panel,
                                  time.perf_counter() - start, planted=PLANTED)
        findings.write(report, self.out)
        return report


_DOING = {"architectures": "architectures evolve with the rule fixed", "joint": "rules and architectures evolve jointly",
          "rules": "rules evolve on non-deep tasks"}


def _settings(record) -> object:
    """An ``experiment.json`` record without what a seed's work does not depend on: the number
    of seeds and the preset's note on its expected time (a record written before families
    existed evolved the MLP family)."""
    if not isinstance(record, dict) or not isinstance(record.get("config"), dict):
        return record
    config = {"family": tasks.DEFAULT_FAMILY, **record["config"]}
    return {**record, "config": {k: v for k, v in config.items() if k not in ("seeds", "expected")}}


def _joint_summary(run: runs.Run) -> findings.JointArm:
    """Per generation, the share of the children that are Adam-like; the best rule's distances."""
    adam = dsl.library.get("adam")
    seen: dict[str, float] = {}
    by_generation: dict[int, list[bool]] = {}
    for c in RunStore.open(run.path).candidates():
        if c.fingerprint not in seen:
            seen[c.fingerprint] = similarity(c.rule, adam)
        by_generation.setdefault(c.generation, []).append(seen[c.fingerprint] >= findings.ADAM_LIKE)
    best = run.rule(1)
    return findings.JointArm(
        adam_like_share=tuple(sum(v) / len(v) for _, v in sorted(by_generation.items())),
        best_rule=run.candidate(1).text,
        distance={name: 1 - similarity(best, dsl.library.get(name)) for name in REFERENCES},
    )


class _Quiet:
    def write(self, _): ...

    def flush(self): ...


def run_experiment(preset: str | Preset = "quick", seeds: int | None = None, out: str | Path = "runs/hypothesis",
                   backend: str = "inprocess", address: str = "", progress: bool = True,
                   family: str | None = None) -> findings.Report:
    """Run (or resume) the experiment in ``out`` with architectures of ``family`` (default: the
    preset's, the MLP family); write ``report.md``, ``report.json``, ``report.png``."""
    return Experiment(out, preset, seeds, backend, address, progress, family).execute()
