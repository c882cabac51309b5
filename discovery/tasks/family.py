"""Architecture families: genes as plain data, their edits, and the task a record builds.

A family is a :class:`Family` record, written in one module (see
``architecture.py``, the MNIST-1D MLP, and ``token_family.py``, the token model
on the Zipf stream) and registered by name (``tasks.register_family``, or named
by import path ``"package.module:FAMILY"`` in a config):

* ``genes``: the record class, a frozen dataclass of str/int/float/bool fields,
  validated on construction, with ``to_dict`` / ``from_dict`` (missing fields take
  their defaults, unknown ones are errors), ``key()`` (stable text), ``summary()``,
  ``n_params()`` (parameters the loss reads) and ``shape(budget)`` (all that
  compiled code depends on: records of one shape train in one compiled function);
* ``random(rng)``: a varied starting record (``random.Random``; the caller redraws
  until it fits the parameter budget);
* ``edits(genes, rng)``: every one-gene change, as (label, child) pairs;
* ``crossover(a, b, rng)``: a child of two records (default: each field from
  either parent with equal odds);
* ``shapes(budget)``: every shape a run within ``budget`` parameters can meet (the
  bound on its compilations);
* ``build(genes, size, budget)``: the task that trains the record (size "small" |
  "default"), in the network every record of its shape shares: everything but
  the shape is data.

``GenesRecord`` and the gene specs (``ladder``, ``choice``, ``integer``, ``flag``,
``scale``) write a genes class declaratively: validation, ``to_dict``/``from_dict``,
``key``, ``random`` and ``edits`` come from the specs, so an extra gene is one line
(plus its use in ``build``). Example::

    @dataclasses.dataclass(frozen=True)
    class MyGenes(GenesRecord):
        FAMILY = "my_family"
        width: int = ladder(32, (16, 32, 64), "hidden units (a shape)")
        label_noise: float = scale(0.1, low=0.001, high=0.5, doc="share of labels replaced")

        def n_params(self) -> int: ...
        def shape(self, budget=None) -> tuple: ...
"""

from __future__ import annotations

import dataclasses
import json
import math
import random
from collections.abc import Callable, Sequence
from typing import Any, ClassVar, Literal, Protocol, get_args

from discovery.codec import Stored, given, stored

from .base import Task

GeneKind = Literal["ladder", "choice", "integer", "flag", "scale"]  # how a gene is checked, drawn, edited
GENE_KINDS: tuple[GeneKind, ...] = get_args(GeneKind)


class Genes(Protocol):
    """What every family's record provides (see the module docstring)."""

    def to_dict(self) -> dict[str, Any]: ...

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Genes: ...  # the protocol; GenesRecord's is the codec's

    def key(self) -> str: ...

    def summary(self) -> str: ...

    def n_params(self) -> int: ...

    def shape(self, budget: int | None = None) -> tuple: ...


def uniform_crossover(a: Any, b: Any, rng: random.Random, tries: int = 8) -> Any:
    """Each field of the child from ``a`` or ``b`` with equal odds, drawn again while a rule
    between genes (the record's validation) refuses the mixture; ``a`` itself after ``tries``."""
    for _ in range(tries):
        try:
            return type(a)(**{f.name: getattr(rng.choice((a, b)), f.name) for f in dataclasses.fields(a)})
        except ValueError:
            continue
    return a


@dataclasses.dataclass(frozen=True)
class Family:
    """An architecture family (see the module docstring for each field's contract)."""

    name: str
    genes: type
    task: str
    description: str
    build: Callable[..., Task]
    random: Callable[[random.Random], Any]
    edits: Callable[[Any, random.Random], list[tuple[str, Any]]]
    shapes: Callable[[int], list[tuple]]
    crossover: Callable[[Any, Any, random.Random], Any] = uniform_crossover

    def default(self) -> Any:
        """The record with every gene at its default."""
        return self.genes()

    def decode(self, data: dict[str, Any]) -> Any:
        """``genes.from_dict(data)``: a ValueError on a bad record."""
        return self.genes.from_dict(data)


# --- declarative genes -------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class GeneSpec:
    """How one gene is validated, drawn and edited.

    kind "ladder": one of ``options`` (ordered); an edit moves one step up or down.
    kind "choice": one of ``options``; an edit picks another.
    kind "integer": an int in [low, high]; an edit adds or subtracts 1.
    kind "flag": a bool; an edit toggles it.
    kind "scale": a float in [low, high]; drawn and edited by a factor exp(N(0, sigma)),
    rounded to 3 significant digits.
    """

    kind: GeneKind
    options: tuple = ()
    low: float = 0.0
    high: float = 0.0
    sigma: float = 0.5
    doc: str = ""

    def __post_init__(self):
        if self.kind not in GENE_KINDS:
            raise ValueError(f"unknown gene kind {self.kind!r}; kinds: {list(GENE_KINDS)}")

    @property
    def continuous(self) -> bool:
        """A "scale" gene: a float drawn and edited by factors, not one of a few values."""
        return self.kind == "scale"


def _gene(default: Any, spec: GeneSpec) -> Any:
    return stored(given, default=default, gene=spec)  # checked against its spec on construction


def ladder(default: Any, options: Sequence, doc: str = "") -> Any:
    """An ordered choice (widths, heads): edits move to a neighbouring option."""
    return _gene(default, GeneSpec("ladder", tuple(options), doc=doc))


def choice(default: Any, options: Sequence, doc: str = "") -> Any:
    """An unordered choice (a normalization, an activation)."""
    return _gene(default, GeneSpec("choice", tuple(options), doc=doc))


def integer(default: int, low: int, high: int, doc: str = "") -> Any:
    return _gene(default, GeneSpec("integer", low=low, high=high, doc=doc))


def flag(default: bool, doc: str = "") -> Any:
    return _gene(default, GeneSpec("flag", doc=doc))


def scale(default: float, low: float = 0.01, high: float = 100.0, sigma: float = 0.5, doc: str = "") -> Any:
    """A positive multiplier, varied on a log scale."""
    return _gene(default, GeneSpec("scale", low=low, high=high, sigma=sigma, doc=doc))


def scaled(value: float, rng: random.Random, low: float = 0.01, high: float = 100.0,
           sigma: float = 0.5) -> float:
    """``value`` times exp(N(0, sigma)), clipped to [low, high], to 3 significant digits."""
    return float(f"{min(max(value * math.exp(rng.gauss(0.0, sigma)), low), high):.3g}")


class GenesRecord(Stored):
    """Base of a declarative genes dataclass: every field is a gene spec (``ladder`` ...), stored
    by the codec (a gene a record lacks takes its default).

    Subclasses are ``@dataclasses.dataclass(frozen=True)``, set ``FAMILY`` (the family's
    name, part of ``key``) and define ``n_params`` and ``shape``; ``check`` adds rules
    between genes.
    """

    FAMILY: ClassVar[str] = ""

    @classmethod
    def specs(cls) -> dict[str, GeneSpec]:
        return {f.name: f.metadata["gene"] for f in dataclasses.fields(cls)}

    def __post_init__(self) -> None:
        name = type(self).__name__
        for field, spec in self.specs().items():
            value = getattr(self, field)
            if spec.kind in ("ladder", "choice"):
                ok = any(type(value) is type(o) and value == o for o in spec.options)
                allowed = f"one of {list(spec.options)}"
            elif spec.kind == "integer":
                ok, allowed = type(value) is int and spec.low <= value <= spec.high, \
                    f"an int in [{spec.low}, {spec.high}]"
            elif spec.kind == "flag":
                ok, allowed = type(value) is bool, "a bool"
            else:
                ok = type(value) in (int, float) and math.isfinite(value) and spec.low <= value <= spec.high
                allowed = f"a number in [{spec.low:g}, {spec.high:g}]"
                if ok:
                    object.__setattr__(self, field, float(value))
            if not ok:
                raise ValueError(f"{name}.{field} must be {allowed}, got {value!r}")
        self.check()

    def check(self) -> None:
        """Rules relating several genes (raise ValueError)."""

    def key(self) -> str:
        """Stable text: the family's name and the sorted JSON of the genes."""
        return json.dumps({"family": self.FAMILY, **self.to_dict()}, sort_keys=True)

    @classmethod
    def random(cls, rng: random.Random) -> Any:
        """Every gene drawn from its spec (choices uniformly, scales around their defaults); drawn
        again until the rules between genes (``check``) hold."""
        while True:
            values = {}
            for f in dataclasses.fields(cls):
                spec = f.metadata["gene"]
                if spec.kind in ("ladder", "choice"):
                    values[f.name] = rng.choice(spec.options)
                elif spec.kind == "integer":
                    values[f.name] = rng.randint(int(spec.low), int(spec.high))
                elif spec.kind == "flag":
                    values[f.name] = rng.random() < 0.5
                else:
                    values[f.name] = scaled(f.default, rng, spec.low, spec.high, spec.sigma)
            try:
                return cls(**values)
            except ValueError:
                continue

    def edits(self, rng: random.Random) -> list[tuple[str, Any]]:
        """Every one-gene change that gives a valid, different record: (label, child)."""
        out = []
        for field, spec in self.specs().items():
            value = getattr(self, field)
            if spec.kind == "ladder":
                i = spec.options.index(value)
                candidates = [(f"{field} {d}", spec.options[j]) for d, j in (("up", i + 1), ("down", i - 1))
                              if 0 <= j < len(spec.options)]
            elif spec.kind == "choice":
                others = [o for o in spec.options if o != value]
                candidates = [(field, rng.choice(others))] if others else []
            elif spec.kind == "integer":
                candidates = [(f"{field}{d:+d}", value + d) for d in (1, -1) if spec.low <= value + d <= spec.high]
            elif spec.kind == "flag":
                candidates = [(field, not value)]
            else:
                candidates = [(field, scaled(value, rng, spec.low, spec.high, spec.sigma))]
            for label, new in candidates:
                try:
                    child = dataclasses.replace(self, **{field: new})
                except ValueError:  # a rule between genes (``check``) refuses it
                    continue
                if child != self:
                    out.append((label, child))
        return out

    def summary(self) -> str:
        """The genes that differ from their defaults, e.g. ``width=64, tied``."""
        parts = []
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if value != f.default:
                parts.append(f.name if value is True else f"no {f.name}" if value is False
                             else f"{f.name}={value:g}" if isinstance(value, float) else f"{f.name}={value}")
        return ", ".join(parts) or "default"
