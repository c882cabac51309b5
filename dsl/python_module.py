"""A rule as the source of a standalone Python module that imports only jax and optax.

The module is written the way Optax writes its own optimizers::

    class ScaleByNameState(NamedTuple): count; <one field per state slot>
    def scale_by_name(<hyper-parameters>) -> GradientTransformation(init_fn, update_fn)
    def name(learning_rate, <hyper-parameters>) = chain(scale_by_name(...), scale_by_learning_rate(lr))

and computes exactly what ``dsl.to_optax`` computes: each leaf is updated by
``_step``, a line-by-line translation of the rule's statements, each operator
written by its forms in ``dsl.ops``: ``jnp`` on arrays. Sub-expressions of
constants and hyper-parameters are written as Python arithmetic, so on Python
floats they are evaluated in float64 as the language folds them
(``dsl.semantics``); the functions Python operators cannot express
(``sqrt(1 - b2)``) go through small helpers that compute their ``host`` form
on floats (with ``math``, the only extra import, and only when needed) and
their ``jnp`` form on traced values (``optax.inject_hyperparams``).

The source is only ever written as text; nothing here executes it.

Example::

    source = dsl.python_module(dsl.library.get("adam"), name="my_adam")
    Path("my_adam.py").write_text(source)   # then: from my_adam import my_adam
"""

from __future__ import annotations

import builtins
import dataclasses
import keyword
from collections.abc import Iterable, Sequence
from typing import NamedTuple

from .expr import Const, Expr, Name, Op
from .ops import ATOM, OPS, UNARY, OpSpec
from .rule import Rule
from .semantics import fold_constants

_MODULE_NAMES = frozenset({"jax", "jnp", "optax", "math", "NamedTuple"})
# Names the generated functions use besides the rule's own: rule names are renamed around them.
_SCAFFOLD = _MODULE_NAMES | {
    "updates", "state", "params", "count", "treedef", "trees", "leaves", "rows", "row", "tree", "i",
    "init_fn", "update_fn", "learning_rate",
}


def check_export_name(name: str) -> None:
    """ValueError unless ``name`` can be the exported optimizer's Python name."""
    if not isinstance(name, str) or not name.isidentifier() or keyword.iskeyword(name):
        raise ValueError(f"name {name!r} is not a Python identifier (or is a keyword)")
    if name.startswith("_") or name in _MODULE_NAMES or hasattr(builtins, name):
        raise ValueError(f"name {name!r} would shadow a builtin, an import or a helper of the "
                         "exported module; choose another")


def python_names(rule: Rule, taken: Iterable[str] = ()) -> dict[str, str]:
    """The Python name of each hyper-parameter, state slot and variable of ``rule``.

    Names are kept unless they are keywords, builtins, names the module uses,
    or start with '_' (not allowed as NamedTuple fields): those get a suffix.
    """
    reserved = set(keyword.kwlist) | set(dir(builtins)) | _SCAFFOLD | set(taken)
    names = list(dict.fromkeys([n for n, _ in rule.params] + list(rule.state)
                               + [a.target for a in rule.body]))
    ok = {n for n in names if not n.startswith("_") and n not in reserved}
    used = reserved | ok
    out = {}
    for n in names:
        if n in ok:
            out[n] = n
            continue
        new = n.lstrip("_") or "x"
        while new in used:
            new += "_"
        used.add(new)
        out[n] = new
    return out


class _Code(NamedTuple):
    """Code of an expression: its text, its precedence level, and its value if it is a
    constant (made of literals and hyper-parameters only, folded as ``dsl.semantics`` does)."""

    text: str
    level: int
    value: float | None


class _Test(NamedTuple):
    """A comparison read as a truth value, left unwritten until it is known whether the
    expression testing it is constant (a helper call) or not (a Python comparison)."""

    spec: OpSpec
    args: list[_Code]

    @property
    def value(self) -> float | None:
        return fold_constants(self.spec.name, [a.value for a in self.args])


def _written(spec: OpSpec, args: Sequence[_Code], value: float | None) -> _Code:
    """The operator in its text form (Python syntax), which is valid code where used."""
    return _Code(*spec.text.write([(a.text, a.level) for a in args]), value)


def _truth(arg: _Code | _Test) -> str:
    """An argument as a Python boolean: a comparison as written, any other value ``x != 0``."""
    return _written(arg.spec, arg.args, None).text if isinstance(arg, _Test) else f"{arg.text} != 0"


class _Writer:
    """Translates expressions, remembering which helpers they need.

    An operator of constants is written for Python floats (its ``host`` form
    through a helper, or its text form), any other for arrays (its ``jnp``
    form, or its text form; reductions through a helper).
    """

    def __init__(self, names: dict[str, str], constants: dict[str, float]):
        self.names = names
        self.constants = constants  # rule names whose value is a constant at this point
        self.helpers: set[str] = set()

    def assign(self, target: str, code: _Code) -> None:
        if code.value is None:
            self.constants.pop(target, None)
        else:
            self.constants[target] = code.value

    def expr(self, e: Expr) -> _Code:
        if isinstance(e, Const):
            text = repr(float(e.value))
            return _Code(text, UNARY if text.startswith("-") else ATOM, e.value)
        if isinstance(e, Name):
            return _Code(self.names.get(e.id, e.id), ATOM, self.constants.get(e.id))
        spec = OPS[e.op]
        args = [self._test(a) if i in spec.truth_args else self.expr(a) for i, a in enumerate(e.args)]
        return self._apply(spec, args)

    def _test(self, e: Expr) -> _Code | _Test:
        if isinstance(e, Op) and OPS[e.op].predicate:
            return _Test(OPS[e.op], [self.expr(a) for a in e.args])
        return self.expr(e)

    def _apply(self, spec: OpSpec, args: list[_Code | _Test]) -> _Code:
        value = fold_constants(spec.name, [a.value for a in args])
        if value is not None:
            args = [self._apply(a.spec, a.args) if isinstance(a, _Test) else a for a in args]
            return _written(spec, args, value) if spec.host is None else self._helper(spec, args, value)
        if spec.reduction:
            return self._helper(spec, args, None)
        if spec.jnp is None:
            return _written(spec, args, None)
        texts = [_truth(a) if i in spec.truth_args else a.text for i, a in enumerate(args)]
        return _Code(spec.jnp.format(*texts), ATOM, None)

    def _helper(self, spec: OpSpec, args: list[_Code], value: float | None) -> _Code:
        self.helpers.add(spec.name)
        return _Code(f"_{spec.name}({', '.join(a.text for a in args)})", ATOM, value)


def _helper_source(spec: OpSpec) -> list[str]:
    """``def _op(args)``: the ``host`` form on Python floats (float64), ``jnp`` on arrays."""
    args = [f"{p} != 0" if i in spec.truth_args else p for i, p in enumerate(spec.params)]
    test = " and ".join(f"isinstance({p}, float)" for p in spec.params)
    return [f"def _{spec.name}({', '.join(spec.params)}):", f"    if {test}:",
            f"        return {spec.host.format(*args)}", f"    return {spec.jnp.format(*args)}", "", ""]


def _camel(name: str) -> str:
    return "".join(w[:1].upper() + w[1:] for w in name.split("_") if w)


def _docstring(text: str, indent: str = "") -> str:
    """``text`` as a triple-quoted docstring (raw if it holds a backslash)."""
    text = text.replace('"""', "'''").strip("\n")
    quote = 'r"""' if "\\" in text else '"""'
    lines = text.splitlines()
    if len(lines) == 1:
        return f'{indent}{quote}{text}"""'
    body = "\n".join((indent + line).rstrip() for line in lines[1:])
    return f'{indent}{quote}{lines[0]}\n{body}\n{indent}"""'


def _indent(text: str, prefix: str) -> str:
    return "\n".join((prefix + line).rstrip() for line in text.rstrip("\n").splitlines())


def _call(head: str, args: list[str], tail: str = "", indent: str = "") -> list[str]:
    """``head(args)tail`` on one line, or one argument per line if that is too long."""
    line = f"{indent}{head}({', '.join(args)}){tail}"
    if len(line) <= 100:
        return [line]
    return [f"{indent}{head}(", *(f"{indent}    {a}," for a in args), f"{indent}){tail}"]


def _returns(values: list[str]) -> list[str]:
    """``return values`` on one line, or one value per line (one value: parenthesized, not a tuple)."""
    line = f"    return {', '.join(values)}"
    if len(line) <= 100:
        return [line]
    if len(values) == 1:
        return ["    return (", f"        {values[0]}", "    )"]
    return ["    return (", *(f"        {v}," for v in values), "    )"]


def python_module(
    rule: Rule,
    name: str | None = None,
    about: str = "",
    recommended_lr: float | None = None,
) -> str:
    """The source of a module defining ``name(learning_rate, **hyperparams)`` for ``rule``.

    ``about`` (plain text, e.g. where the rule comes from) goes into the module
    docstring; ``recommended_lr`` becomes the default of ``learning_rate`` (and is
    stated in the optimizer's docstring). The module imports only
    ``typing``, ``jax`` and ``optax`` (and ``math`` if a function of
    hyper-parameters such as ``sqrt(1 - b2)`` appears) and gives the same
    updates as ``dsl.to_optax(rule, learning_rate)``.
    """
    name = rule.name if name is None else name
    check_export_name(name)
    rule = dataclasses.replace(rule, name=name)
    state_class = f"ScaleBy{_camel(name)}State"
    scale_fn = f"scale_by_{name}"
    py = python_names(rule, taken={name, state_class, scale_fn})
    writer = _Writer(py, dict(rule.params))
    step_lines = []
    for stmt in rule.body:
        code = writer.expr(stmt.value)
        step_lines.append(f"    {py[stmt.target]} = {code.text}")
        writer.assign(stmt.target, code)
    result = writer.expr(rule.result).text
    slots = [py[s] for s in rule.state]
    hyper = [(py[n], v) for n, v in rule.params]
    read = rule.names_read
    step_args = ["g", *(x for x in ("p", "t") if x in read), *slots,
                 *(py[n] for n, _ in rule.params if n in read)]

    imports = ["import math"] if any("math." in OPS[h].host for h in writer.helpers) else []
    imports += ["from typing import NamedTuple", "", "import jax", "import jax.numpy as jnp",
                "import optax"]
    renamed = ", ".join(f"{k} -> {v}" for k, v in py.items() if k != v)
    module_doc = (f"{name}: an optimizer update rule exported by the discovery engine, for Optax.\n\n"
                  + (about.strip() + "\n\n" if about.strip() else "")
                  + f"Use: ``opt = {name}(learning_rate)``. Requires only jax and optax.\n")
    lr_text = (f" (default: {float(recommended_lr)!r}, the recommended learning rate)"
               if recommended_lr is not None else "")
    factory_doc = (
        "The rule as an Optax optimizer: ``p <- p - learning_rate * u``.\n\n"
        "Per parameter leaf, with gradient ``g``, parameter ``p``, step ``t`` (1.0 on the\n"
        "first update) and state slots starting at zero, ``u`` is the returned value of::\n\n"
        f"{_indent(rule.to_text(), '    ')}\n\n"
        + (f"Names changed to be valid Python here: {renamed}.\n\n" if renamed else "")
        + f"LaTeX::\n\n{_indent(rule.to_latex(), '    ')}\n\n"
        f"Args:\n  learning_rate: a float or an Optax schedule{lr_text}.\n"
        + "".join(f"  {h}: hyper-parameter (default {v!r}).\n" for h, v in hyper)
        + "\nReturns:\n  An ``optax.GradientTransformation``; it works on any params pytree, in\n"
        f"  ``optax.chain`` and with ``optax.inject_hyperparams({name})``.\n"
    )
    slot_doc = ", ".join(f"``{s}``" for s in slots)
    typed = [f"{h}: float = {v!r}" for h, v in hyper]

    lines = [_docstring(module_doc), "", *imports, "", ""]
    lines += [f"class {state_class}(NamedTuple):",
              _docstring("``count``: updates so far"
                         + (f"; {slot_doc}: state slots shaped like the params." if slots else "."),
                         "    "),
              "", "    count: jax.Array", *(f"    {s}: optax.Updates" for s in slots), "", ""]
    lines += ["def _like(x, g):",
              '    """``x`` (possibly a scalar) broadcast to the leaf\'s shape and dtype."""',
              "    return jnp.broadcast_to(jnp.asarray(x, g.dtype), g.shape)", "", ""]
    if writer.helpers:
        lines += ["# Functions of hyper-parameters and per-leaf reductions: on Python floats they are",
                  "# computed in float64 (as the rule language folds constants), on arrays in jax.", ""]
    for op in sorted(writer.helpers):
        lines += _helper_source(OPS[op])
    lines += [f"def _step({', '.join(step_args)}):",
              '    """The rule on one leaf: the update direction'
              + (', then the new state slots."""' if slots else '."""'),
              *step_lines,
              *_returns([f"_like({result}, g)", *(f"_like({s}, g)" for s in slots)]), "", ""]
    lines += _transform(rule, scale_fn, state_class, typed, slots, step_args)
    lr_arg = "learning_rate: optax.ScalarOrSchedule" + (
        "" if recommended_lr is None else f" = {float(recommended_lr)!r}")
    lines += [*_call(f"def {name}", [lr_arg, *typed],
                     " -> optax.GradientTransformation:"),
              _docstring(factory_doc, "    "),
              "    return optax.chain(",
              f"        {scale_fn}({', '.join(f'{h}={h}' for h, _ in hyper)}),",
              "        optax.scale_by_learning_rate(learning_rate),",
              "    )", ""]
    return "\n".join(lines)


def _transform(rule, scale_fn, state_class, typed, slots, step_args) -> list[str]:
    """``scale_by_<name>``: ``init_fn`` and ``update_fn`` applying ``_step`` leaf by leaf."""
    reads_p = "p" in rule.names_read
    columns = ["updates", *(["params"] if reads_p else []), *(f"state.{s}" for s in slots)]
    loop_vars = ["g", *(["p"] if reads_p else []), *slots]
    call = f"_step({', '.join(step_args)})"
    lines = [*_call(f"def {scale_fn}", typed, " -> optax.GradientTransformation:"),
             '    """Scale updates by the rule (no learning rate, no sign flip)."""', "",
             "    def init_fn(params):",
             *_call(f"return {state_class}",
                    ["count=jnp.zeros([], jnp.int32)",
                     *(f"{s}=optax.tree.zeros_like(params)" for s in slots)], indent="        "),
             "", "    def update_fn(updates, state, params=None):"]
    if reads_p:
        lines += ["        if params is None:",
                  '            raise ValueError("this rule reads p: pass params to update()")']
    else:
        lines.append("        del params  # the rule does not read p")
    lines.append("        count = optax.safe_increment(state.count)")
    if "t" in rule.names_read:
        lines.append("        t = count.astype(jnp.float32)")
    lines.append("        treedef = jax.tree.structure(updates)")
    if len(columns) == 1:
        lines.append(f"        rows = [{call} for g in treedef.flatten_up_to(updates)]")
    else:
        lines += [f"        trees = ({', '.join(columns)})",
                  "        leaves = zip(*(treedef.flatten_up_to(tree) for tree in trees), strict=True)",
                  f"        rows = [{call} for {', '.join(loop_vars)} in leaves]"]
    if slots:
        lines += [f"        updates, {', '.join(slots)} = (",
                  f"            treedef.unflatten([row[i] for row in rows]) for i in range({1 + len(slots)})",
                  "        )"]
    else:
        lines.append("        updates = treedef.unflatten(rows)")
    lines += [f"        return updates, {state_class}("
              + ", ".join(["count=count", *(f"{s}={s}" for s in slots)]) + ")",
              "", "    return optax.GradientTransformation(init_fn, update_fn)", "", ""]
    return lines
