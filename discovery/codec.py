"""The one codec of stored records: a frozen dataclass declares a reader per field.

A stored record derives from ``Stored`` and declares each field with ``stored(reader)``: the
function that checks and converts the stored value (``real``, ``whole()``, ``text``, ``one_of``,
``flag``, ``sequence``, ``mapping``, ``optional``, ``record(Cls)``, ``given``). ``to_dict`` writes the
fields in order as plain data (``plain``; a field's ``writer``, if declared, first);
``from_dict`` reads them all back (``read_fields``): an unknown, missing or malformed field is a
one-line ``RecordError`` naming where it was read and the field. A field declared ``inline``
(``stored(record(Cls), inline=Cls)``) is stored as its record's fields beside the others.

JSON holds non-finite floats as the strings NaN, Infinity and -Infinity (``real`` reads them).
Records written by older code are brought to the current form before they are read, in one
place (``discovery.runs.upgrade``); a default here is a value the record's constructor takes when
none is given (a gene's default, a result not yet attached), never a stand-in for an old form.

Example::

    @dataclasses.dataclass(frozen=True)
    class Point(Stored):
        x: float = stored(real)
        label: str | None = stored(optional(text), default=None)

    Point.from_dict({"x": "NaN"})  # Point(x=nan, label=None)
"""

from __future__ import annotations

import dataclasses
import functools
import math
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

T = TypeVar("T")
Reader = Callable[[Any], Any]
_NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
_SHAPE_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, RecursionError)


class RecordError(ValueError):
    """Stored data that does not have a record's shape; the message says where it was read."""


def decode(from_dict: Callable[[Any], T], data: Any, where: str) -> T:
    """``from_dict(data)``, any error of shape or type raised as a ``RecordError`` naming ``where``."""
    try:
        return from_dict(data)
    except _SHAPE_ERRORS as e:
        raise RecordError(f"{where}: malformed record ({type(e).__name__}: {e})") from None


# ----------------------------------------------------------------------------- readers


def real(value: Any) -> float:
    """A stored float: a number, or one of the strings NaN, Infinity, -Infinity (strict JSON)."""
    if isinstance(value, str) and value in _NON_FINITE:
        return _NON_FINITE[value]
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    raise TypeError(f"expected a number, got {str(value)[:40]!r}")


def whole(low: int = 0) -> Reader:
    """An integer >= ``low`` (not a bool)."""
    def read(value: Any) -> int:
        if type(value) is not int or value < low:
            raise TypeError(f"expected an integer >= {low}, got {str(value)[:40]!r}")
        return value
    return read


def text(value: Any) -> str:
    """A string."""
    if not isinstance(value, str):
        raise TypeError(f"expected text, got {str(value)[:40]!r}")
    return value


def one_of(values: tuple[str, ...]) -> Reader:
    """One of the strings ``values`` (a kind's, e.g. ``typing.get_args`` of its ``Literal``)."""
    def read(value: Any) -> str:
        if not isinstance(value, str) or value not in values:
            raise TypeError(f"expected one of {values}, got {str(value)[:40]!r}")
        return value
    return read


def flag(value: Any) -> bool:
    """A bool."""
    if type(value) is not bool:
        raise TypeError(f"expected true or false, got {str(value)[:40]!r}")
    return value


def given(value: Any) -> Any:
    """The value as stored: for a field the record's own construction validates (genes)."""
    return value


def sequence(item: Reader) -> Reader:
    """A list, each item read by ``item``; a tuple."""
    def read(value: Any) -> tuple:
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"expected a list, got {type(value).__name__}")
        out = []
        for i, x in enumerate(value):
            try:
                out.append(item(x))
            except _SHAPE_ERRORS as e:
                raise TypeError(f"item {i}: {e}") from None
        return tuple(out)
    return read


def mapping(value: Reader) -> Reader:
    """A dict from strings to values read by ``value``."""
    def read(data: Any) -> dict:
        if not isinstance(data, Mapping):
            raise TypeError(f"expected a table, got {type(data).__name__}")
        out = {}
        for k, v in data.items():
            if not isinstance(k, str):
                raise TypeError(f"expected text keys, got {str(k)[:40]!r}")
            try:
                out[k] = value(v)
            except _SHAPE_ERRORS as e:
                raise TypeError(f"entry {k[:40]!r}: {e}") from None
        return out
    return read


def optional(reader: Reader) -> Reader:
    """None, or a value read by ``reader``."""
    return lambda value: None if value is None else reader(value)


def record(cls: type) -> Reader:
    """A nested record, read by ``cls.from_dict``."""
    return cls.from_dict


# ----------------------------------------------------------------------------- records


def stored(reader: Reader, default: Any = dataclasses.MISSING, default_factory: Any = dataclasses.MISSING,
           writer: Callable[[Any], Any] | None = None, inline: type | None = None, **metadata: Any) -> Any:
    """A dataclass field read from stored data by ``reader`` (``read_fields``) and written by
    ``writer`` (default ``plain``); ``default`` (or ``default_factory``) is the constructor's and
    stands in for the field where stored data lacks it; ``inline``: the field's record class,
    whose fields are stored beside the record's own rather than nested; ``metadata``: more of the
    field's (a gene's spec)."""
    metadata = {"reader": reader, "writer": writer or plain, "inline": inline, **metadata}
    return dataclasses.field(default=default, default_factory=default_factory, metadata=metadata)


def plain(value: Any) -> Any:
    """``value`` as stored: a record by its ``to_dict``, another dataclass field by field, tuples
    as lists, tables and lists item by item."""
    if hasattr(value, "to_dict"):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, (list, tuple)):
        return [plain(x) for x in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


class Stored:
    """A dataclass whose every field is declared with ``stored(reader)``: it is stored as the table
    of its fields in order and read back through their readers (``read_fields``)."""

    def to_dict(self) -> dict:
        out = {}
        for f in dataclasses.fields(self):
            value = f.metadata["writer"](getattr(self, f.name))
            if f.metadata["inline"]:
                out.update(value)
            else:
                out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: Any, where: str | None = None):
        return cls(**read_fields(cls, data, where or f"{cls.__name__} record"))


class Frozen(Stored):
    """A ``Stored`` record immutable all the way down, its stored form computed once (records a
    checkpoint writes again every generation: candidates, evaluations)."""

    def to_dict(self) -> dict:
        return dict(self._stored)

    @functools.cached_property
    def _stored(self) -> dict:
        return Stored.to_dict(self)


def read_fields(cls: type, data: Any, where: str) -> dict[str, Any]:
    """The values of ``cls``'s fields read from ``data`` by their readers; a missing field
    without a default, an unknown key or a malformed value is a one-line ``RecordError``
    naming ``where`` and the field."""
    if not isinstance(data, Mapping):
        raise RecordError(f"{where}: expected a table of fields, got {type(data).__name__}")
    fields = dataclasses.fields(cls)
    names = {f.name: f for f in fields if not f.metadata["inline"]}
    names.update({g.name: f for f in fields if f.metadata["inline"] for g in dataclasses.fields(f.metadata["inline"])})
    unknown = sorted(str(k) for k in data if k not in names)
    if unknown:
        raise RecordError(f"{where}: unknown field(s) {unknown[:5]}; fields: {list(names)}")
    values = {}
    for f in fields:
        inline = f.metadata["inline"]
        if inline:
            values[f.name] = inline(**read_fields(inline, {k: v for k, v in data.items() if names[k] is f}, where))
            continue
        if f.name not in data:
            if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise RecordError(f"{where}: field {f.name!r} is missing")
            values[f.name] = f.default if f.default_factory is dataclasses.MISSING else f.default_factory()
            continue
        try:
            values[f.name] = f.metadata["reader"](data[f.name])
        except _SHAPE_ERRORS as e:
            raise RecordError(f"{where}: field {f.name!r} is malformed: {e}") from None
    return values
