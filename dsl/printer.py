"""Rule -> canonical text and LaTeX, each operator written by its forms in ``dsl.ops``.

Text uses the fewest parentheses that Python's precedence needs, so
``parse(rule.to_text()) == rule`` for every rule.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence

from .expr import Assign, Const, Expr, Name
from .ops import ATOM, OPS, UNARY


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
    """An expression as rule text, e.g. ``b1 * m + (1 - b1) * g``."""
    return _text(expr)[0]


def _text(expr: Expr) -> tuple[str, int]:
    """``(text, precedence level)`` of an expression."""
    if isinstance(expr, Const):
        text = format_number(expr.value)
        return text, UNARY if text.startswith("-") else ATOM
    if isinstance(expr, Name):
        return expr.id, ATOM
    return OPS[expr.op].text.write([_text(a) for a in expr.args])


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


def _latex(expr: Expr) -> tuple[str, int]:
    """``(LaTeX, precedence level)`` of an expression."""
    if isinstance(expr, Const):
        v = expr.value
        text = format_number(v)
        if "e" in text:
            mant, exp = text.split("e")
            text = rf"{mant} \cdot 10^{{{int(exp)}}}" if mant not in ("1", "1.0") else rf"10^{{{int(exp)}}}"
        return text, UNARY if v < 0 else ATOM
    if isinstance(expr, Name):
        return latex_name(expr.id), ATOM
    return OPS[expr.op].latex.write([_latex(a) for a in expr.args], r"\left({}\right)")
