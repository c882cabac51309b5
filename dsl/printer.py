"""Rule -> canonical text and LaTeX.

Text uses the fewest parentheses that Python's precedence needs, so
``parse(to_text(rule)) == rule`` for every rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from .expr import Assign, Const, Expr, Name
from .ops import BINARY_SYMBOLS, COMPARE_SYMBOLS

# Python precedence levels, lowest first.
_TERNARY, _COMPARE, _ADD, _MUL, _UNARY, _POW, _ATOM = range(7)
_LEVEL = {"add": _ADD, "sub": _ADD, "mul": _MUL, "div": _MUL, "pow": _POW}


def format_number(value: float) -> str:
    """Shortest text that parses back to exactly ``value`` (integers without '.0')."""
    if value.is_integer() and abs(value) < 1e16 and math.copysign(1.0, value) > 0:
        return str(int(value))
    if value.is_integer() and abs(value) < 1e16 and value != 0:
        return str(int(value))
    return repr(value)


def rule_text(
    name: str, params: Sequence[tuple[str, float]], body: Sequence[Assign], result: Expr
) -> str:
    """``def name(params):``, the statements, then ``return result``."""
    args = ", ".join(f"{n}={format_number(v)}" for n, v in params)
    lines = [f"def {name}({args}):"]
    lines += [f"    {a.target} = {expr_text(a.value)}" for a in body]
    lines.append(f"    return {expr_text(result)}")
    return "\n".join(lines) + "\n"


def expr_text(expr: Expr) -> str:
    return _text(expr)[0]


def _wrap(part: tuple[str, int], minimum: int) -> str:
    text, level = part
    return text if level >= minimum else f"({text})"


def _text(expr: Expr) -> tuple[str, int]:
    if isinstance(expr, Const):
        text = format_number(expr.value)
        return text, _UNARY if text.startswith("-") else _ATOM
    if isinstance(expr, Name):
        return expr.id, _ATOM
    op, args = expr.op, [_text(a) for a in expr.args]
    if op in BINARY_SYMBOLS:
        level = _LEVEL[op]
        if op == "pow":  # right-associative; exponent may be a unary minus
            return f"{_wrap(args[0], _ATOM)} ** {_wrap(args[1], _UNARY)}", level
        return f"{_wrap(args[0], level)} {BINARY_SYMBOLS[op]} {_wrap(args[1], level + 1)}", level
    if op == "neg":
        return f"-{_wrap(args[0], _UNARY)}", _UNARY
    if op in COMPARE_SYMBOLS:
        return f"{_wrap(args[0], _ADD)} {COMPARE_SYMBOLS[op]} {_wrap(args[1], _ADD)}", _COMPARE
    if op == "where":
        cond, a, b = args
        return f"{_wrap(a, _COMPARE)} if {_wrap(cond, _COMPARE)} else {_wrap(b, _TERNARY)}", _TERNARY
    return f"{op}({', '.join(t for t, _ in args)})", _ATOM


# ----------------------------------------------------------------------------- LaTeX

_GREEK = {
    "alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta", "kappa",
    "lambda", "mu", "nu", "xi", "rho", "sigma", "tau", "phi", "chi", "psi", "omega",
}
_ALIASES = {"b": "beta", "eps": "epsilon", "lr": "eta", "wd": "lambda", "weight_decay": "lambda"}


def latex_name(name: str) -> str:
    """``b1`` -> ``\\beta_{1}``, ``mhat`` -> ``\\hat{m}``, ``eps`` -> ``\\epsilon``."""
    if name.endswith("hat") and len(name) > 3:
        return rf"\hat{{{latex_name(name[:-3])}}}"
    m = re.fullmatch(r"([A-Za-z]+?)_?(\d+)", name)
    stem, sub = (m.group(1), m.group(2)) if m else (name, "")
    stem = _ALIASES.get(stem, stem)
    if stem in _GREEK:
        body = "\\" + stem
    elif len(stem) == 1:
        body = stem
    else:
        body = r"\mathrm{" + stem.replace("_", r"\_") + "}"
    return f"{body}_{{{sub}}}" if sub else body


def rule_latex(body: Sequence[Assign], result: Expr) -> str:
    """The statements as ``target <- value`` lines of an ``aligned`` block, then ``u = result``."""
    lines = [rf"{latex_name(a.target)} &\leftarrow {_latex(a.value)[0]}" for a in body]
    lines.append(rf"u &= {_latex(result)[0]}")
    return "\\begin{aligned}\n" + " \\\\\n".join(lines) + "\n\\end{aligned}"


def _lwrap(part: tuple[str, int], minimum: int) -> str:
    text, level = part
    return text if level >= minimum else rf"\left({text}\right)"


_LATEX_FUNCS = {"exp": r"\exp", "log": r"\log", "tanh": r"\tanh", "max": r"\max", "min": r"\min"}
_LATEX_INFIX = {"add": ("+", _ADD), "sub": ("-", _ADD), "mul": (r"\cdot", _MUL)}
# Operators typeset as a self-delimiting atom, from their arguments' LaTeX.
_LATEX_ATOMS = {
    "div": lambda a, b: rf"\frac{{{a}}}{{{b}}}",
    "sqrt": lambda a: rf"\sqrt{{{a}}}",
    "rsqrt": lambda a: rf"\frac{{1}}{{\sqrt{{{a}}}}}",
    "abs": lambda a: rf"\left|{a}\right|",
    "norm": lambda a: rf"\left\lVert {a} \right\rVert_2",
    "lt": lambda a, b: rf"\left[{a} < {b}\right]",
    "le": lambda a, b: rf"\left[{a} \le {b}\right]",
    "gt": lambda a, b: rf"\left[{a} > {b}\right]",
    "ge": lambda a, b: rf"\left[{a} \ge {b}\right]",
    "where": lambda c, a, b: rf"\begin{{cases}} {a} & {c} \ne 0 \\ {b} & \text{{otherwise}} \end{{cases}}",
}


def _latex(expr: Expr) -> tuple[str, int]:
    if isinstance(expr, Const):
        v = expr.value
        text = format_number(v)
        if "e" in text:
            mant, exp = text.split("e")
            text = rf"{mant} \cdot 10^{{{int(exp)}}}" if mant not in ("1", "1.0") else rf"10^{{{int(exp)}}}"
        return text, _UNARY if v < 0 else _ATOM
    if isinstance(expr, Name):
        return latex_name(expr.id), _ATOM
    op, args = expr.op, [_latex(a) for a in expr.args]
    if op in _LATEX_INFIX:
        symbol, level = _LATEX_INFIX[op]
        return f"{_lwrap(args[0], level)} {symbol} {_lwrap(args[1], level + 1)}", level
    if op in _LATEX_ATOMS:
        return _LATEX_ATOMS[op](*(text for text, _ in args)), _ATOM
    if op == "pow":
        return f"{_lwrap(args[0], _ATOM)}^{{{args[1][0]}}}", _POW
    if op == "square":
        return f"{_lwrap(args[0], _ATOM)}^{{2}}", _POW
    if op == "neg":
        return f"-{_lwrap(args[0], _UNARY)}", _UNARY
    name = _LATEX_FUNCS.get(op, rf"\operatorname{{{op}}}")
    return rf"{name}\left({', '.join(t for t, _ in args)}\right)", _ATOM
