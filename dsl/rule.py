"""Rules as values: the validated ``Rule`` (its nodes: ``dsl.expr``, re-exported here).

A rule is the body of ``def name(hyper=default, ...)``: assignments, then
``return u``. Inputs are ``g`` (gradient), ``p`` (parameter) and ``t`` (step,
1.0 on the first update). A name read before it is assigned is a *state slot*:
zeros at first, carried across steps, its end-of-body value stored. The
optimizer applies ``p <- p - learning_rate * u``.
"""

from __future__ import annotations

import keyword
import unicodedata
from dataclasses import dataclass, field

from .errors import DSLError
from .expr import Assign, Const, Expr, Name, Op, depth_exceeds, names_read, walk
from .ops import OP_NAMES, OPS
from .printer import rule_latex, rule_text

INPUTS = ("g", "p", "t")
RESERVED = frozenset(INPUTS) | frozenset(OP_NAMES) | {"learning_rate"}

# Size limits: they bound evaluation cost and keep the interpreter's fixed-size
# encoding able to hold every valid rule.
MAX_STATEMENTS = 16
MAX_DEPTH = 12
MAX_NODES = 128
MAX_HYPERPARAMS = MAX_NODES  # templates (dsl.template) lift every constant into one
MAX_STATE = 8
MAX_NAME = 64  # characters in a name: bounds the text of the largest rule (dsl.parser.MAX_TEXT)


@dataclass(frozen=True)
class Rule:
    """An optimizer update rule. Immutable and hashable; build with ``dsl.parse``.

    Fields: ``name``; ``params``, the hyper-parameters as ``(name, default)``
    pairs in signature order; ``body``, the assignments; ``result``, the
    returned update direction ``u``. Constructing a Rule validates it.
    """

    name: str
    params: tuple[tuple[str, float], ...]
    body: tuple[Assign, ...]
    result: Expr
    state: tuple[str, ...] = field(init=False, compare=False, repr=False)
    _structure_hash: int = field(init=False, compare=False, repr=False)
    _hash: int = field(init=False, compare=False, repr=False)

    def __post_init__(self):
        object.__setattr__(self, "params", tuple((str(n), float(v)) for n, v in self.params))
        object.__setattr__(self, "body", tuple(Assign(a.target, _canonical(a.value)) for a in self.body))
        object.__setattr__(self, "result", _canonical(self.result))
        object.__setattr__(self, "state", _validate(self))
        object.__setattr__(self, "_structure_hash", hash((self.params, self.body, self.result)))
        object.__setattr__(self, "_hash", hash((self.name, self._structure_hash)))

    def __hash__(self) -> int:  # computed once: rules key the caches of probes and niches
        return self._hash

    def renamed(self, name: str) -> Rule:
        """The same rule under another name (only the name is checked: the rest already was)."""
        check_name(name, "rule name")
        copy = object.__new__(Rule)
        for f in ("params", "body", "result", "state", "_structure_hash"):
            object.__setattr__(copy, f, getattr(self, f))
        object.__setattr__(copy, "name", name)
        object.__setattr__(copy, "_hash", hash((name, self._structure_hash)))
        return copy

    @property
    def hyperparams(self) -> dict[str, float]:
        """Hyper-parameter defaults, in signature order."""
        return dict(self.params)

    @property
    def names_read(self) -> frozenset[str]:
        """Every name the rule reads (inputs, hyper-parameters, variables)."""
        exprs = [a.value for a in self.body] + [self.result]
        return frozenset(n for e in exprs for n in names_read(e))

    @property
    def size(self) -> int:
        """Complexity: the number of expression nodes, plus one per statement."""
        return sum(1 + sum(1 for _ in walk(a.value)) for a in self.body) + sum(
            1 for _ in walk(self.result)
        )

    def to_text(self) -> str:
        """Canonical text: ``dsl.parse(rule.to_text()) == rule``."""
        return rule_text(self.name, self.params, self.body, self.result)

    def to_latex(self) -> str:
        """The statements as a LaTeX ``aligned`` block, ending with ``u = ...``."""
        return rule_latex(self.body, self.result)

    def __str__(self) -> str:
        return self.to_text()


def _canonical(expr: Expr) -> Expr:
    """``-c`` of a literal is the literal ``-c`` (as text, both read the same)."""
    if not isinstance(expr, Op) or depth_exceeds(expr, MAX_DEPTH):
        return expr
    args = tuple(_canonical(a) for a in expr.args)
    if expr.op == "neg" and isinstance(args[0], Const):
        return Const(-args[0].value)
    return Op(expr.op, args) if args != expr.args else expr


def _validate(rule: Rule) -> tuple[str, ...]:
    """Check a rule's well-formedness; return its state slots in order of first read."""
    check_name(rule.name, "rule name")
    if len(rule.params) > MAX_HYPERPARAMS:
        raise DSLError(f"too many hyper-parameters ({len(rule.params)}); at most {MAX_HYPERPARAMS}")
    if len(rule.body) + 1 > MAX_STATEMENTS:
        raise DSLError(
            f"too many statements ({len(rule.body) + 1}); at most {MAX_STATEMENTS} including return"
        )
    hyper = set()
    for pname, value in rule.params:
        check_name(pname, "hyper-parameter name")
        if pname in RESERVED:
            raise DSLError(f"{pname!r} cannot be a hyper-parameter name (reserved: {sorted(RESERVED)})")
        if pname in hyper:
            raise DSLError(f"hyper-parameter {pname!r} is declared twice")
        if value != value or value in (float("inf"), float("-inf")):
            raise DSLError(f"hyper-parameter {pname!r} default must be finite, got {value}")
        hyper.add(pname)
    assigned_anywhere = {a.target for a in rule.body}
    nodes = 0
    assigned: set[str] = set()
    state: list[str] = []
    for stmt in (*rule.body, None):
        expr = rule.result if stmt is None else stmt.value
        _check_expr(expr)
        nodes += sum(1 for _ in walk(expr))
        for name in names_read(expr):
            if name in INPUTS or name in hyper or name in assigned:
                continue
            if name in assigned_anywhere:
                if name not in state:
                    state.append(name)
                continue
            raise DSLError(
                f"unknown name {name!r}: use g, p, t, a hyper-parameter, or a variable "
                "assigned in the body"
            )
        if stmt is not None:
            target = stmt.target
            check_name(target, "variable name")
            if target in RESERVED:
                raise DSLError(f"cannot assign to {target!r}: g, p, t, learning_rate and operator names are reserved")
            if target in hyper:
                raise DSLError(f"cannot assign to hyper-parameter {target!r}")
            assigned.add(target)
    if nodes > MAX_NODES:
        raise DSLError(f"rule too large ({nodes} expression nodes); at most {MAX_NODES}")
    if len(state) > MAX_STATE:
        raise DSLError(f"too many state slots ({len(state)}); at most {MAX_STATE}")
    return tuple(state)


def check_name(name: str, role: str = "name") -> None:
    """DSLError unless ``name`` reads back as itself from rule text, msgpack and Python source.

    A name is a Python identifier, at most ``MAX_NAME`` characters, not a keyword
    (soft keywords such as ``match`` or ``type`` are ordinary names in every place a
    rule puts a name), and in NFKC form: Python reads identifiers normalized, so
    ``ｍ`` (fullwidth) would be the same variable as ``m`` in text and in the
    exported module but a different one natively.
    """
    if not isinstance(name, str) or not name.isidentifier():
        raise DSLError(f"{role} {name!r} is not an identifier")
    if len(name) > MAX_NAME:
        raise DSLError(f"{role} {name[:20]!r}... is {len(name)} characters long; at most {MAX_NAME}")
    if keyword.iskeyword(name):
        raise DSLError(f"{role} {name!r} is a Python keyword")
    normal = unicodedata.normalize("NFKC", name)
    if normal != name:
        raise DSLError(f"{role} {name!r} is not in Unicode NFKC form: Python reads it as "
                       f"{normal!r}; write {normal!r}")


def _check_expr(expr: Expr) -> None:
    if depth_exceeds(expr, MAX_DEPTH):
        raise DSLError(f"expression nested too deeply; at most {MAX_DEPTH} levels")
    for node in walk(expr):
        if isinstance(node, Const):
            v = node.value
            if not isinstance(v, float) or v != v or v in (float("inf"), float("-inf")):
                raise DSLError(f"constants must be finite floats, got {v!r}")
        elif isinstance(node, Name):
            check_name(node.id, "name")
        elif isinstance(node, Op):
            spec = OPS.get(node.op)
            if spec is None:
                raise DSLError(f"unknown operator {node.op!r}")
            if not isinstance(node.args, tuple) or len(node.args) != spec.arity:
                raise DSLError(f"{node.op} takes {spec.arity} argument(s)")
        else:
            raise DSLError(f"not an expression node: {type(node).__name__}")
