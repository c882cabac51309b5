"""Run configuration: typed sections, presets (``RUN_PRESETS``), a TOML file, overrides, validation.

A ``Config`` is five frozen sections (``run``, ``tasks``, ``protocol``,
``evaluation``, ``coevolution``), each validated when it is built: unknown
keys, wrong types and unknown tasks are errors that name the key and say
what is allowed. Facts derived from several keys (does this run evolve
architectures?) are properties, decided here once.

Example::

    cfg = config.load(preset="quick", **{"run.seed": 1})
    cfg.run.generations, cfg.tasks.search, cfg.evolves_architectures
    text = config.dumps(cfg); config.loads(text) == cfg
"""

from __future__ import annotations

import contextlib
import contextvars
import dataclasses
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, Literal, TypeVar, get_args

import tomli_w

import dsl
from discovery import tasks
from discovery.training import scoring, trainer
from discovery.training.tuning import LIMITS

T = TypeVar("T")
# The kinds a run's config chooses among, each defined once here (validation reads these):
Mode = Literal["regularized", "mu_plus_lambda", "random"]  # random: random search, the baseline a search must beat
MODES: tuple[Mode, ...] = get_args(Mode)
CoevolutionMode = Literal["rules", "architectures", "joint"]
COEVOLUTION_MODES: tuple[CoevolutionMode, ...] = get_args(CoevolutionMode)
Start = Literal["default", "varied"]  # co-evolution's first architectures: the family's default, or random
STARTS: tuple[Start, ...] = get_args(Start)
BackendName = Literal["inprocess", "ray"]
BACKENDS: tuple[BackendName, ...] = get_args(BackendName)
INPROCESS, RAY = BACKENDS
EvaluationPath = Literal["auto", trainer.TrainingPath]  # auto: the cost model chooses per task
PATHS: tuple[EvaluationPath, ...] = get_args(EvaluationPath)
HeldOutSize = Literal["", tasks.Size]  # "": the search tasks' size
HELD_OUT_SIZES: tuple[HeldOutSize, ...] = get_args(HeldOutSize)
Vocabulary = Literal["primitive", "blocks"]  # operators only, or building blocks too
VOCABULARIES: tuple[Vocabulary, ...] = get_args(Vocabulary)
# The variation kinds and their default weights (evolution.variation implements them; evolution.blocks
# the blocks); ``VariationSettings`` is a run's choice among them.
PRIMITIVE_WEIGHTS = {"insert": 1.0, "delete": 1.0, "modify": 1.0, "subtree": 2.0, "node": 2.0, "constant": 2.0}
BLOCK_MUTATIONS = ("ema", "normalize", "sign", "clip", "correct")
BLOCK_WEIGHTS = {**PRIMITIVE_WEIGHTS, **dict.fromkeys(BLOCK_MUTATIONS, 1.5)}
MUTATION_KINDS = (*PRIMITIVE_WEIGHTS, *BLOCK_MUTATIONS)
CROSSOVER_WEIGHTS = {"statement": 1.0, "subtree": 1.0}
CROSSOVER_KINDS = tuple(CROSSOVER_WEIGHTS)
MAX_SEED = 2**32 - 1  # JAX PRNG seeds are uint32
# Upper bounds: far beyond any sensible run, below what would overflow or exhaust memory later.
MAX_GENERATIONS = 100_000
MAX_POPULATION = 10_000
MAX_STEPS = 1_000_000
MAX_HALL_OF_FAME = 10_000
MAX_EVALUATED = MAX_GENERATIONS * MAX_POPULATION
MAX_PARAM_BUDGET = 100_000_000


def _spec(default, kinds, predicate: Callable[[Any], bool] | None, allowed: str):
    """A field whose value must be one of ``kinds`` and pass ``predicate`` (else: ``allowed``)."""
    return dataclasses.field(default=default, metadata={"check": (kinds, predicate, allowed)})


def _is(kinds, value) -> bool:
    kinds = kinds if isinstance(kinds, tuple) else (kinds,)
    return isinstance(value, kinds) and not (isinstance(value, bool) and bool not in kinds)


def _list_of(kinds, predicate=lambda _: True):
    return lambda xs: all(_is(kinds, x) and predicate(x) for x in xs)


def _finite(x) -> bool:
    return math.isfinite(x)


def _distinct(xs) -> bool:
    return len(set(xs)) == len(xs)


def _one_of(values: tuple) -> tuple[Callable[[Any], bool], str]:
    """``(predicate, allowed)`` of a text field whose value is one of ``values`` (a kind's)."""
    return (lambda x: x in values), f"one of {values}"


def _ints(low: int, high: int) -> tuple[Callable[[Any], bool], str]:
    """``(predicate, allowed)`` of an integer field in ``[low, high]``."""
    return (lambda x: low <= x <= high), f"an integer in [{low}, {high}]"


_READING_STORED = contextvars.ContextVar("reading_stored", default=False)
_TASKS_ALLOWED = (f"distinct task names from {tasks.names()}, tasks registered with "
                  "discovery.tasks.register, or 'package.module:factory' import paths")


def _task_names(xs) -> bool:
    """Known task names; in a stored config (``reading_stored()``), any name: a task registered in the
    process that ran need not exist where the run is read."""
    known = (lambda n: bool(re.fullmatch(r"[\w.:-]{1,200}", n))) if _READING_STORED.get() else tasks.is_known
    return _list_of(str, known)(xs)


def _family_name(name) -> bool:
    """A known architecture family; in a stored config, any family-like name (one registered in
    the process that ran need not exist where the run is read)."""
    if _READING_STORED.get():
        return bool(re.fullmatch(r"[\w.:-]{1,200}", name))
    return tasks.is_known_family(name)


@contextlib.contextmanager
def reading_stored():
    """Within it, configs are read as a run folder stores them: task and family names are not
    looked up (inspect and export need no task; a task registered in the process that ran need
    not exist where the run is read)."""
    token = _READING_STORED.set(True)
    try:
        yield
    finally:
        _READING_STORED.reset(token)


class _Section:
    """Validates every field against its spec, then turns lists into tuples (frozen, hashable)."""

    NAME = ""

    def __post_init__(self):
        for f in dataclasses.fields(self):
            kinds, predicate, allowed = f.metadata["check"]
            value = getattr(self, f.name)
            if kinds is list and isinstance(value, tuple):
                value = list(value)
            if not _is(kinds, value) or (predicate is not None and not predicate(value)):
                raise ValueError(f"[{self.NAME}] {f.name} = {value!r} is invalid: expected {allowed}")
            if isinstance(value, list):
                object.__setattr__(self, f.name, tuple(value))
        self.check()

    def check(self) -> None:
        """Rules that relate several keys of the section."""

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in dataclasses.asdict(self).items()}


@dataclasses.dataclass(frozen=True)
class RunSettings(_Section):
    NAME = "run"
    name: str = _spec("run", str, lambda s: 0 < len(s) <= 64 and re.fullmatch(r"[A-Za-z0-9_-]+", s),
                      "1 to 64 letters, digits, '-' or '_'")
    seed: int = _spec(0, int, *_ints(0, MAX_SEED))
    generations: int = _spec(10, int, *_ints(1, MAX_GENERATIONS))
    population: int = _spec(16, int, *_ints(2, MAX_POPULATION))
    mode: Mode = _spec("regularized", str, *_one_of(MODES))
    tournament: int = _spec(4, int, lambda x: x >= 1, "an integer between 1 and the population size")
    crossover_prob: float = _spec(0.2, (int, float), lambda x: 0 <= x <= 1, "a number in [0, 1]")
    warm_start: tuple[str, ...] = _spec(
        ("adam",), list, _list_of(str, lambda n: n in dsl.library.names()),
        f"a list of library rules from {dsl.library.names()}")
    restart_every: int = _spec(0, int, *_ints(0, MAX_GENERATIONS))
    parsimony: float = _spec(0.02, (int, float), lambda x: _finite(x) and x >= 0,
                             "a number >= 0 (decades of fitness within which the simpler rule wins)")
    niche_cap: int = _spec(4, int, lambda x: 0 <= x <= MAX_POPULATION,
                           "an integer >= 0 (most population members of one niche; 0: no cap)")
    fresh_retries: int = _spec(20, int, *_ints(0, 100))
    immigrants: float = _spec(0.25, (int, float), lambda x: 0 <= x <= 1,
                              "a share in [0, 1] (random rules among a collapsing generation's children)")
    max_evaluated: int = _spec(0, int, lambda x: 0 <= x <= MAX_EVALUATED,
                               f"an integer in [0, {MAX_EVALUATED}] (stop once this many distinct "
                               "behaviours are trained; 0: no limit)")

    def check(self) -> None:
        if self.tournament > self.population:
            raise ValueError(f"[run] tournament = {self.tournament} is invalid: expected an integer "
                             "between 1 and the population size")

    @property
    def random_search(self) -> bool:
        """Every generation's children are random rules, nothing bred (mode "random")."""
        return self.mode == "random"

    @property
    def keeps_best(self) -> bool:
        """The best of parents and children survive (mode "mu_plus_lambda"); else the oldest leave."""
        return self.mode == "mu_plus_lambda"


@dataclasses.dataclass(frozen=True)
class TaskSettings(_Section):
    NAME = "tasks"
    search: tuple[str, ...] = _spec(("quadratic_ill", "mf_k4", "mnist1d_mlp"), list,
                                    lambda xs: _task_names(xs) and _distinct(xs), _TASKS_ALLOWED)
    held_out: tuple[str, ...] = _spec(("mf_k1", "rosenbrock", "mnist1d_cnn"), list,
                                      lambda xs: _task_names(xs) and _distinct(xs), _TASKS_ALLOWED)
    size: tasks.Size = _spec("small", str, *_one_of(tasks.SIZES))
    held_out_size: HeldOutSize = _spec("", str, lambda s: s in HELD_OUT_SIZES,
                                       "'' (the search tasks' size), 'small' or 'default' (a funnel: the "
                                       "hall of fame re-checked on larger problems than it was found on)")

    def check(self) -> None:
        if not self.search:
            raise ValueError("[tasks] search is empty: list at least one task")


@dataclasses.dataclass(frozen=True)
class ProtocolSettings(_Section):
    NAME = "protocol"
    learning_rates: tuple[float, ...] = _spec(
        scoring.DEFAULT_LEARNING_RATES, list, _list_of((int, float), lambda x: LIMITS[0] <= x <= LIMITS[1]),
        f"a non-empty list of numbers in [{LIMITS[0]:g}, {LIMITS[1]:g}] (the limits of bracketing)")
    seeds: tuple[int, ...] = _spec((0, 1), list,
                                   lambda xs: _list_of(int, lambda x: 0 <= x <= MAX_SEED)(xs) and _distinct(xs),
                                   f"a list of distinct integers in [0, {MAX_SEED}]")
    steps: int = _spec(100, int, *_ints(1, MAX_STEPS))
    held_out_steps: int = _spec(300, int, *_ints(1, MAX_STEPS))
    bracket: bool = _spec(True, bool, None, "true or false (extend the grid until the optimum is inside)")
    scale_free: bool = _spec(True, bool, None, "true or false (start each rule's grid at its natural scale)")
    refine: bool = _spec(True, bool, None, "true or false (try a sharp optimum again on a finer grid)")

    def check(self) -> None:
        if not self.learning_rates or not self.seeds:
            raise ValueError("[protocol] learning_rates and seeds must not be empty")

    def screening(self, screen: ScreeningSettings) -> scoring.Protocol:
        """The screening protocol: ``screen.learning_rates`` lrs from the middle of the grid, the
        first seed, ``screen.steps`` steps; no bracketing, no refinement."""
        grid = sorted(float(x) for x in self.learning_rates)
        start = max(0, (len(grid) - screen.learning_rates) // 2)
        return scoring.Protocol(learning_rates=tuple(grid[start:start + screen.learning_rates]),
                                seeds=(self.seeds[0],), steps=screen.steps, bracket=False,
                                scale_free=self.scale_free, refine=False)

    def training(self, held_out: bool = False) -> scoring.Protocol:
        """The training protocol of the search tasks, or of the held-out tasks."""
        return scoring.Protocol(learning_rates=tuple(float(x) for x in self.learning_rates),
                                seeds=tuple(self.seeds),
                                steps=self.held_out_steps if held_out else self.steps,
                                bracket=self.bracket, scale_free=self.scale_free, refine=self.refine)


@dataclasses.dataclass(frozen=True)
class EvaluationSettings(_Section):
    NAME = "evaluation"
    path: EvaluationPath = _spec("auto", str, *_one_of(PATHS))
    hurdle: float = _spec(1.0, (int, float), _finite, "a finite number (log10 ratio vs Adam)")
    ratio_clip: float = _spec(1.0, (int, float), lambda x: _finite(x) and x > 0,
                              "a positive number (decades a task's ratio is clipped to)")
    hall_of_fame: int = _spec(10, int, *_ints(1, MAX_HALL_OF_FAME))
    held_out_every: int = _spec(10, int, lambda x: 0 <= x <= MAX_GENERATIONS,
                                f"an integer in [0, {MAX_GENERATIONS}] (generations between held-out "
                                "re-checks; 0: at the end only)")
    held_out_top: int = _spec(3, int, lambda x: 1 <= x <= MAX_HALL_OF_FAME,
                              f"an integer in [1, {MAX_HALL_OF_FAME}] (hall-of-fame entries re-checked)")
    backend: BackendName = _spec("inprocess", str, *_one_of(BACKENDS))
    address: str = _spec("", str, lambda x: x in ("", "auto") or re.fullmatch(r"(ray://)?[^\s:]+:\d+", x),
                         "'' (a local Ray), 'auto' or HOST:PORT of a Ray cluster")
    compilation_cache: bool = _spec(True, bool, None, "true or false (keep compiled trainings in "
                                    "the persistent cache, training.compiler.cache_folder)")

    def check(self) -> None:
        if self.address and not self.on_ray:
            raise ValueError(f"[evaluation] address = {self.address!r} needs backend = 'ray'")

    @property
    def on_ray(self) -> bool:
        """Candidates are evaluated by Ray workers (``backend = "ray"``)."""
        return self.backend == RAY

    @property
    def forced_path(self) -> trainer.TrainingPath | None:
        """The path every training takes (``path``), or None: the cost model chooses ("auto")."""
        return None if self.path == "auto" else self.path


@dataclasses.dataclass(frozen=True)
class CoevolutionSettings(_Section):
    NAME = "coevolution"
    mode: CoevolutionMode = _spec("rules", str, *_one_of(COEVOLUTION_MODES))
    fixed_rule: str = _spec("adam", str, lambda n: n in dsl.library.names(),
                            f"a library rule from {dsl.library.names()}")
    family: str = _spec(tasks.DEFAULT_FAMILY, str, _family_name,
                        f"an architecture family from {tasks.family_names()}, one registered with "
                        "discovery.tasks.register_family, or 'package.module:FAMILY'")
    start_architectures: Start = _spec("default", str, *_one_of(STARTS))
    param_budget: int = _spec(20000, int, *_ints(1000, MAX_PARAM_BUDGET))
    architecture_prob: float = _spec(0.5, (int, float), lambda x: 0 <= x <= 1, "a number in [0, 1]")
    batch_architectures: bool = _spec(False, bool, None, "true or false (train a generation's "
                                      "candidates of one shape in one vmapped call: pays on GPUs)")

    @property
    def evolves_architectures(self) -> bool:
        """Candidates are (rule, architecture) pairs scored by held-out loss."""
        return self.mode != "rules"

    @property
    def evolves_rules(self) -> bool:
        return self.mode != "architectures"

    @property
    def starts_varied(self) -> bool:
        """The first architectures are random ones of the family (else its default, repeated)."""
        return self.start_architectures == "varied"

    @property
    def architecture_family(self) -> tasks.Family:
        """The family whose architectures the run evolves (``family``)."""
        return tasks.family(self.family)

    def check(self) -> None:
        if not self.evolves_architectures or self.starts_varied or (
                _READING_STORED.get() and self.family not in tasks.family_names()):
            return
        default_size = self.architecture_family.default().n_params()
        if default_size > self.param_budget:
            raise ValueError(f"[coevolution] param_budget = {self.param_budget} is below the default "
                             f"architecture's {default_size} parameters ({self.family} family): raise it "
                             "or start 'varied'")


@dataclasses.dataclass(frozen=True)
class ScreeningSettings(_Section):
    """Cheap screening (multi-fidelity): every new behaviour of a generation is first trained on
    the hurdle task alone, with one seed, ``learning_rates`` lrs around its natural scale and
    ``steps`` steps; only the best ``promote`` share of them gets the full evaluation (fair
    tuning on every search task). ``promote = 1``: no screening."""

    NAME = "screening"
    promote: float = _spec(1.0, (int, float), lambda x: 0 < x <= 1, "a share in (0, 1] (1: no screening)")
    steps: int = _spec(25, int, *_ints(1, MAX_STEPS))
    learning_rates: int = _spec(4, int, *_ints(1, 64))

    @property
    def on(self) -> bool:
        return self.promote < 1


def _weights(kinds: tuple[str, ...]):
    return lambda w: all(k in kinds and _is((int, float), v) and _finite(v) and v >= 0 for k, v in w.items())


@dataclasses.dataclass(frozen=True)
class VariationSettings(_Section):
    """How children are made (``evolution.variation`` takes this section as it is).

    ``vocabulary``: ``"primitive"`` (operators only) or ``"blocks"`` (building blocks too: their
    mutation kinds, and random initial rules made of them); ``mutation_weights``: a table of
    ``kind = weight`` over the vocabulary's defaults (``mutations``); ``crossover_weights``: a
    table that replaces ``CROSSOVER_WEIGHTS`` (``crossovers``); ``max_height``: of new random
    subtrees (0: a terminal); ``perturb_scale``: the standard deviation of a constant's log-factor.
    """

    NAME = "variation"
    vocabulary: Vocabulary = _spec("primitive", str, *_one_of(VOCABULARIES))
    mutation_weights: dict = _spec(None, (dict, type(None)), lambda w: w is None or _weights(MUTATION_KINDS)(w),
                                   f"a table of weights >= 0 for the mutation kinds {MUTATION_KINDS}")
    crossover_weights: dict = _spec(None, (dict, type(None)), lambda w: w is None or _weights(CROSSOVER_KINDS)(w),
                                    f"a table of weights >= 0 for the crossover kinds {CROSSOVER_KINDS}")
    max_height: int = _spec(3, int, *_ints(0, 8))
    perturb_scale: float = _spec(0.5, (int, float), lambda x: _finite(x) and x > 0, "a positive number")

    def __post_init__(self):
        for name in ("mutation_weights", "crossover_weights"):
            if getattr(self, name) == {}:
                object.__setattr__(self, name, None)
        super().__post_init__()
        for name in ("mutation_weights", "crossover_weights"):  # frozen and hashable
            value = getattr(self, name)
            if isinstance(value, dict):
                object.__setattr__(self, name, tuple(sorted(value.items())))

    @property
    def mutations(self) -> dict[str, float]:
        """Each mutation kind's weight: the vocabulary's defaults, updated by ``mutation_weights``."""
        defaults = BLOCK_WEIGHTS if self.vocabulary == "blocks" else PRIMITIVE_WEIGHTS
        return {**defaults, **dict(self.mutation_weights or ())}

    @property
    def crossovers(self) -> dict[str, float]:
        """Each crossover kind's weight: ``crossover_weights``, else ``CROSSOVER_WEIGHTS``."""
        return dict(self.crossover_weights or CROSSOVER_WEIGHTS)

    def check(self) -> None:
        if self.vocabulary == "primitive" and any(self.mutations.get(k, 0) > 0 for k in BLOCK_MUTATIONS):
            raise ValueError(f"[variation] mutation_weights gives weight to block mutations {BLOCK_MUTATIONS}: "
                             "they need vocabulary = 'blocks'")
        for name, weights in (("mutation_weights", self.mutations), ("crossover_weights", self.crossovers)):
            if not any(v > 0 for v in weights.values()):
                raise ValueError(f"[variation] {name} leaves no kind a positive weight: no child could be made")

    def to_dict(self) -> dict[str, Any]:
        out = super().to_dict()
        for name in ("mutation_weights", "crossover_weights"):
            out[name] = dict(getattr(self, name) or {})
        return out


SECTIONS: dict[str, type[_Section]] = {
    "run": RunSettings, "tasks": TaskSettings, "protocol": ProtocolSettings,
    "evaluation": EvaluationSettings, "coevolution": CoevolutionSettings, "variation": VariationSettings,
    "screening": ScreeningSettings,
}


@dataclasses.dataclass(frozen=True)
class Config:
    """A whole run's configuration: one typed, validated section per TOML table."""

    run: RunSettings = dataclasses.field(default_factory=RunSettings)
    tasks: TaskSettings = dataclasses.field(default_factory=TaskSettings)
    protocol: ProtocolSettings = dataclasses.field(default_factory=ProtocolSettings)
    evaluation: EvaluationSettings = dataclasses.field(default_factory=EvaluationSettings)
    coevolution: CoevolutionSettings = dataclasses.field(default_factory=CoevolutionSettings)
    variation: VariationSettings = dataclasses.field(default_factory=VariationSettings)
    screening: ScreeningSettings = dataclasses.field(default_factory=ScreeningSettings)

    def __post_init__(self):
        if self.run.random_search and not self.evolves_rules:
            raise ValueError("[run] mode = 'random' draws random rules; [coevolution] mode "
                             f"{self.coevolution.mode!r} holds the rule fixed: use 'rules' or 'joint'")

    @property
    def evolves_architectures(self) -> bool:
        """True for co-evolution (modes "architectures" and "joint"): candidates are pairs."""
        return self.coevolution.evolves_architectures

    @property
    def evolves_rules(self) -> bool:
        return self.coevolution.evolves_rules

    def to_dict(self) -> dict[str, dict[str, Any]]:
        """Plain nested data (TOML tables): ``{section: {key: value}}``."""
        return {name: getattr(self, name).to_dict() for name in SECTIONS}

    @classmethod  # not the codec's: a config file holds only the keys it overrides (TOML sections)
    def from_dict(cls, data: Mapping, where: str = "") -> Config:
        """Defaults overridden by ``data`` (``{section: {key: value}}``); unknown keys are errors."""
        merged = merge(cls().to_dict(), data, where)
        return cls(**{name: SECTIONS[name](**values) for name, values in merged.items()})

    def replace(self, **dotted) -> Config:
        """A copy with ``section.key`` values replaced, validated: ``cfg.replace(**{"run.seed": 2})``."""
        return Config.from_dict(merge(self.to_dict(), _nested(dotted)))


# A run's presets: partial configs. The hypothesis experiment's presets are experiment sizes
# (``experiments.adam_hypothesis.EXPERIMENT_PRESETS``); both are looked up by ``named_preset``.
RUN_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
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


def named_preset(presets: Mapping[str, T], name: str) -> T:
    """``presets[name]``; an unknown name is a ValueError that lists the presets."""
    if name not in presets:
        raise ValueError(f"unknown preset {name!r}; presets: {list(presets)}")
    return presets[name]


def merge(base: Mapping, override: Mapping, where: str = "") -> dict:
    """``base`` with ``override`` applied section by section; unknown sections or keys are errors."""
    out = {name: dict(values) for name, values in base.items()}
    for name, values in override.items():
        if name not in SECTIONS:
            raise ValueError(f"unknown config section [{name}]{where}; sections: {list(SECTIONS)}")
        if not isinstance(values, Mapping):
            raise ValueError(f"config section [{name}]{where} must be a table")
        keys = [f.name for f in dataclasses.fields(SECTIONS[name])]
        for key, value in values.items():
            if key not in keys:
                raise ValueError(f"unknown key '{key}' in [{name}]{where}; keys: {keys}")
            out.setdefault(name, {})[key] = value
    return out


def _nested(dotted: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    nested: dict[str, dict[str, Any]] = {}
    for name, value in dotted.items():
        section, _, key = name.partition(".")
        nested.setdefault(section, {})[key] = value
    return nested


def load(path: str | Path | None = None, preset: str | None = None, **overrides) -> Config:
    """Defaults, then ``preset``, then the TOML file, then ``overrides`` (``section.key`` names)."""
    data = Config().to_dict()
    if preset is not None:
        data = merge(data, named_preset(RUN_PRESETS, preset))
    if path is not None:
        data = merge(data, _toml(_read_text(Path(path)), str(path)), f" of {path}")
    return Config.from_dict(merge(data, _nested(overrides)))


def _read_text(path: Path) -> str:
    """A config file's text; a missing file, a folder or binary bytes are errors naming it."""
    if not path.exists():
        raise FileNotFoundError(f"config file {path} does not exist")
    if path.is_dir():
        raise ValueError(f"config file {path} is a folder; give a TOML file")
    if not path.is_file():
        raise ValueError(f"config file {path} is not a regular file; give a TOML file")
    try:
        return path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as e:
        raise ValueError(f"config file {path} is not UTF-8 text (byte {e.start} is {e.object[e.start]:#04x}):"
                         " it cannot be TOML") from None


def _toml(text: str, where: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise ValueError(f"{where}: invalid TOML: {e}") from None


def dumps(config: Config) -> str:
    """The config as TOML text (every key, resolved)."""
    return tomli_w.dumps(config.to_dict())


def loads(text: str, where: str = "config") -> Config:
    """Inverse of ``dumps``; ``where`` names the source in error messages."""
    return Config.from_dict(_toml(text, where), f" of {where}")
