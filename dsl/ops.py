"""The operator table: everything the language knows about an operator, in one record.

An ``OpSpec`` holds the operator's arity; its implementation ``fn(xp, *args)``
against an array namespace ``xp`` (``numpy`` or ``jax.numpy``), which every
evaluator runs (native compiler, interpreter, NumPy probe, constant folding);
its algebraic flags; and how it is written: as rule text, which the parser
reads back (``text``), as LaTeX (``latex``), and in an exported Python module
(``jnp`` on arrays, ``host`` on Python floats in float64). Adding an operator
is one entry of ``_SPECS``: the parser, printer, simplifier, compilers, probe
and exporter all read this table.

Reductions (``norm``, ``rms``, ``mean``) act on one parameter leaf and
broadcast back. They reduce only through ``xp.sum`` and ``xp.size``, so an
evaluator holding several leaves in one flat vector passes a namespace whose
``sum`` and ``size`` act per leaf.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

# Precedence levels of Python's grammar, shared by rule text, LaTeX and exported code;
# loosest first. A Const or Name is an ATOM (a negative constant is UNARY).
TERNARY, COMPARE, ADD, MUL, UNARY, POW, ATOM = range(7)


@dataclass(frozen=True)
class Form:
    """One way of writing an operator.

    ``template`` has ``{i}`` for argument ``i``; ``level`` is the precedence of
    the written result; ``operands[i]`` is the lowest level argument ``i`` may
    have without parentheses (arguments past the end are never wrapped).
    Example: ``a - b`` is ``Form("{0} - {1}", ADD, (ADD, MUL))``, so
    ``a - (b - c)`` keeps its parentheses and ``(a - b) - c`` loses them.
    """

    template: str
    level: int = ATOM
    operands: tuple[int, ...] = ()

    def write(self, args: Sequence[tuple[str, int]], paren: str = "({})") -> tuple[str, int]:
        """``(text, level)`` of the operator applied to arguments given as ``(text, level)``."""
        texts = [
            paren.format(text) if i < len(self.operands) and level < self.operands[i] else text
            for i, (text, level) in enumerate(args)
        ]
        return self.template.format(*texts), self.level


@dataclass(frozen=True)
class OpSpec:
    """An operator: ``fn`` computes it, ``text`` and ``latex`` write it.

    Exported code writes it with ``jnp`` on arrays (a single call, used inline; a
    reduction's goes into a helper) and with ``host`` on Python floats (inside a
    helper). ``None`` means the text form is valid code there (Python's operators;
    the builtin ``abs`` on floats).
    """

    name: str
    arity: int
    fn: Callable  # fn(xp, *args) -> array
    text: Form  # rule text, Python syntax
    latex: Form
    jnp: str | None = None  # exported code on arrays (jax.numpy)
    host: str | None = None  # exported code on Python floats, float64 (math and builtins)
    params: tuple[str, ...] = ("x",)  # argument names, for exported helpers and messages
    commutative: bool = False
    reduction: bool = False
    predicate: bool = False  # 1.0 where its text form (a Python comparison) is true, else 0.0
    truth_args: tuple[int, ...] = ()  # arguments read as truth values: nonzero is true
    idempotent: bool = False  # one argument: f(f(x)) = f(x); two: f(x, x) = x
    nonnegative: bool = False  # never negative, never -0.0: abs(f(...)) = f(...)


def _rsqrt(xp, x):
    if isinstance(x, np.ndarray | np.generic | float):
        return 1.0 / np.sqrt(x)
    import jax  # only reached with jax.numpy, so jax is already loaded

    return jax.lax.rsqrt(xp.asarray(x))


def _sum_sq(xp, x):
    return xp.sum(xp.square(x))


def _infix(name: str, symbol: str, level: int, fn: Callable, latex: Form, **flags) -> OpSpec:
    """A left-associative Python operator ``a symbol b``, the same code on floats and arrays."""
    text = Form(f"{{0}} {symbol} {{1}}", level, (level, level + 1))
    return OpSpec(name, 2, lambda xp, a, b: fn(a, b), text, latex, params=("a", "b"), **flags)


def _comparison(name: str, symbol: str, latex_symbol: str, compare: Callable) -> OpSpec:
    """``a symbol b`` as 1.0 (true) or 0.0 (false)."""
    return OpSpec(
        name, 2, lambda xp, a, b: xp.where(compare(a, b), 1.0, 0.0),
        text=Form(f"{{0}} {symbol} {{1}}", COMPARE, (ADD, ADD)),
        latex=Form(rf"\left[{{0}} {latex_symbol} {{1}}\right]"),
        jnp=f"jnp.where({{0}} {symbol} {{1}}, 1.0, 0.0)",
        host=f"float({{0}} {symbol} {{1}})",
        params=("a", "b"),
        predicate=True,
    )


def _function(name: str, fn: Callable, latex: Form, jnp: str, host: str | None,
              params: tuple[str, ...] = ("x",), **flags) -> OpSpec:
    """An operator written as a call ``name(x, ...)`` in rule text."""
    call = Form(f"{name}({', '.join(f'{{{i}}}' for i in range(len(params)))})")
    return OpSpec(name, len(params), fn, call, latex, jnp, host, params, **flags)


def _latex_call(command: str, arity: int = 1) -> Form:
    """``\\command\\left(x, ...\\right)``."""
    command = command.replace("{", "{{").replace("}", "}}")
    return Form(command + r"\left(" + ", ".join(f"{{{i}}}" for i in range(arity)) + r"\right)")


_SPECS = [
    _infix("add", "+", ADD, operator.add, Form("{0} + {1}", ADD, (ADD, MUL)), commutative=True),
    _infix("sub", "-", ADD, operator.sub, Form("{0} - {1}", ADD, (ADD, MUL))),
    _infix("mul", "*", MUL, operator.mul, Form(r"{0} \cdot {1}", MUL, (MUL, UNARY)),
           commutative=True),
    _infix("div", "/", MUL, operator.truediv, Form(r"\frac{{{0}}}{{{1}}}")),
    # Right-associative; the exponent may be a unary minus (Python's grammar).
    OpSpec("pow", 2, lambda xp, a, b: xp.power(a, b), Form("{0} ** {1}", POW, (ATOM, UNARY)),
           Form("{0}^{{{1}}}", POW, (ATOM,)), params=("a", "b")),
    OpSpec("neg", 1, lambda xp, a: -a, Form("-{0}", UNARY, (UNARY,)), Form("-{0}", UNARY, (UNARY,))),
    _comparison("lt", "<", "<", operator.lt),
    _comparison("le", "<=", r"\le", operator.le),
    _comparison("gt", ">", ">", operator.gt),
    _comparison("ge", ">=", r"\ge", operator.ge),
    OpSpec(
        "where", 3, lambda xp, c, a, b: xp.where(c != 0, a, b),
        text=Form("{1} if {0} else {2}", TERNARY, (COMPARE, COMPARE, TERNARY)),
        latex=Form(r"\begin{{cases}} {1} & {0} \ne 0 \\ {2} & \text{{otherwise}} \end{{cases}}"),
        jnp="jnp.where({0}, {1}, {2})", host="{1} if {0} else {2}",
        params=("c", "a", "b"), truth_args=(0,),
    ),
    _function("sqrt", lambda xp, a: xp.sqrt(a), Form(r"\sqrt{{{0}}}"),
              "jnp.sqrt({0})", "math.sqrt({0})"),
    _function("abs", lambda xp, a: xp.abs(a), Form(r"\left|{0}\right|"), "jnp.abs({0})", None,
              idempotent=True, nonnegative=True),
    _function("sign", lambda xp, a: xp.sign(a), _latex_call(r"\operatorname{sign}"),
              "jnp.sign({0})", "float({0} > 0) - float({0} < 0)", idempotent=True),
    _function("exp", lambda xp, a: xp.exp(a), _latex_call(r"\exp"), "jnp.exp({0})", "math.exp({0})",
              nonnegative=True),
    _function("log", lambda xp, a: xp.log(a), _latex_call(r"\log"), "jnp.log({0})", "math.log({0})"),
    _function("tanh", lambda xp, a: xp.tanh(a), _latex_call(r"\tanh"),
              "jnp.tanh({0})", "math.tanh({0})"),
    _function("square", lambda xp, a: xp.square(a), Form("{0}^{{2}}", POW, (ATOM,)),
              "jnp.square({0})", "{0} * {0}", nonnegative=True),
    _function("rsqrt", _rsqrt, Form(r"\frac{{1}}{{\sqrt{{{0}}}}}"),
              "jax.lax.rsqrt({0})", "1.0 / math.sqrt({0})"),
    _function("max", lambda xp, a, b: xp.maximum(a, b), _latex_call(r"\max", 2),
              "jnp.maximum({0}, {1})", "max({0}, {1})", ("a", "b"), commutative=True, idempotent=True),
    _function("min", lambda xp, a, b: xp.minimum(a, b), _latex_call(r"\min", 2),
              "jnp.minimum({0}, {1})", "min({0}, {1})", ("a", "b"), commutative=True, idempotent=True),
    _function("clip", lambda xp, x, lo, hi: xp.minimum(xp.maximum(x, lo), hi),
              _latex_call(r"\operatorname{clip}", 3), "jnp.minimum(jnp.maximum({0}, {1}), {2})",
              "min(max({0}, {1}), {2})", ("x", "lo", "hi")),
    _function("norm", lambda xp, a: xp.sqrt(_sum_sq(xp, a)), Form(r"\left\lVert {0} \right\rVert_2"),
              "jnp.sqrt(jnp.sum(jnp.square({0})))", "math.sqrt({0} * {0})", reduction=True,
              nonnegative=True),
    _function("rms", lambda xp, a: xp.sqrt(_sum_sq(xp, a) / xp.size(a)),
              _latex_call(r"\operatorname{rms}"), "jnp.sqrt(jnp.sum(jnp.square({0})) / jnp.size({0}))",
              "math.sqrt({0} * {0})", reduction=True, nonnegative=True),
    _function("mean", lambda xp, a: xp.sum(a) / xp.size(a), _latex_call(r"\operatorname{mean}"),
              "jnp.sum({0}) / jnp.size({0})", "{0}", reduction=True),
]

OPS: dict[str, OpSpec] = {spec.name: spec for spec in _SPECS}
OP_NAMES: tuple[str, ...] = tuple(OPS)
