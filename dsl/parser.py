"""Text -> Rule, through the standard ``ast`` module under a strict whitelist.

Nothing is ever evaluated: the Python syntax tree is only read. Which syntax
means which operator is read from the operators' text forms (``dsl.ops``), so
the parser reads back exactly what the printer writes. Every problem becomes a
``DSLError`` with the line and column of the offending node.
"""

from __future__ import annotations

import ast

from .errors import DSLError
from .expr import Assign, Const, Expr, Name, Op
from .ops import OPS, OpSpec
from .rule import MAX_DEPTH, MAX_STATEMENTS, Rule

MAX_TEXT = 32_000  # the largest valid rule prints to about 21,000 characters (MAX_NAME)


def _operands(node: ast.AST) -> list[ast.AST]:
    """The operand nodes of an operator's Python syntax, in field order."""
    if isinstance(node, ast.BinOp):
        return [node.left, node.right]
    if isinstance(node, ast.UnaryOp):
        return [node.operand]
    if isinstance(node, ast.Compare):
        return [node.left, *node.comparators]
    if isinstance(node, ast.IfExp):
        return [node.test, node.body, node.orelse]
    if isinstance(node, ast.Call):
        return list(node.args)
    return []


def _key(node: ast.AST) -> tuple:
    """What tells operators apart in Python syntax: the node type, its operators or callee."""
    if isinstance(node, (ast.BinOp, ast.UnaryOp)):
        return type(node), type(node.op)
    if isinstance(node, ast.Compare):
        return type(node), *map(type, node.ops)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        return type(node), node.func.id
    return (type(node),)


def _syntax(spec: OpSpec) -> tuple[tuple, tuple[int, ...]]:
    """``(key, order)`` of an operator's text form: argument ``i`` is operand ``order[i]``."""
    placeholders = [f"_{i}" for i in range(spec.arity)]
    node = ast.parse(spec.text.template.format(*placeholders), mode="eval").body
    found = [operand.id for operand in _operands(node)]
    return _key(node), tuple(found.index(p) for p in placeholders)


# The language's syntax, read from the operators' text forms (dsl.ops).
_SYNTAX = {key: (name, order) for name, spec in OPS.items() for key, order in [_syntax(spec)]}
assert len(_SYNTAX) == len(OPS), "two operators have the same Python syntax"
FUNCTIONS: tuple[str, ...] = tuple(name for key, (name, _) in _SYNTAX.items() if key[0] is ast.Call)
_AUGMENTED = (ast.Add, ast.Sub, ast.Mult, ast.Div)  # the Python 'x op= y' statements allowed


def _spellings(kind: type, sep: str, named: bool) -> str:
    """How the operators written as ``kind`` nodes look, with argument names or bare."""
    specs = [OPS[name] for key, (name, _) in _SYNTAX.items() if key[0] is kind]
    return sep.join(s.text.template.format(*(s.params if named else [""] * s.arity)).strip()
                    for s in specs)


_COMPARISONS = _spellings(ast.Compare, ", ", named=True)
_ALLOWED = (
    f"operators {_spellings(ast.BinOp, ' ', False)} and unary {_spellings(ast.UnaryOp, ' ', False)}, "
    f"comparisons {_spellings(ast.Compare, ' ', False)}, '{_spellings(ast.IfExp, ' ', True)}', "
    f"numbers, names, and calls of {', '.join(FUNCTIONS)}"
)


def parse(text: str) -> Rule:
    """Parse rule text such as::

        def adam(b1=0.9, b2=0.999, eps=1e-8):
            m = b1 * m + (1 - b1) * g
            v = b2 * v + (1 - b2) * g**2
            return (m / (1 - b1**t)) / (sqrt(v / (1 - b2**t)) + eps)

    into a validated ``Rule``. Raises ``DSLError`` (with ``line``/``col``) on
    anything outside the language.
    """
    if not isinstance(text, str):
        raise DSLError(f"rule text must be a str, got {type(text).__name__}")
    if len(text) > MAX_TEXT:
        raise DSLError(f"rule text too long ({len(text)} characters); at most {MAX_TEXT}")
    try:
        module = ast.parse(text, mode="exec")
    except SyntaxError as e:
        raise DSLError(f"syntax error: {e.msg}", e.lineno or 0, e.offset or 0) from None
    except (ValueError, RecursionError, MemoryError) as e:
        raise DSLError(f"cannot parse rule text: {e}") from None
    if len(module.body) != 1 or not isinstance(module.body[0], ast.FunctionDef):
        node = module.body[1] if len(module.body) > 1 else (module.body[0] if module.body else None)
        raise DSLError(
            "a rule is exactly one 'def name(hyper=default, ...):' block",
            *(_pos(node) if node else (1, 1)),
        )
    fn = module.body[0]
    params = _parse_signature(fn)
    body, result = _parse_body(fn, {name for name, _ in params})
    try:
        return Rule(fn.name, params, body, result)
    except DSLError as e:
        if e.line:
            raise
        line, col = _locate(fn, e.message)
        raise DSLError(e.message, line, col) from None


def _pos(node: ast.AST) -> tuple[int, int]:
    return getattr(node, "lineno", 0) or 0, (getattr(node, "col_offset", -1) or 0) + 1


def _fail(node: ast.AST, message: str):
    raise DSLError(message, *_pos(node))


def _locate(fn: ast.FunctionDef, message: str) -> tuple[int, int]:
    """Best position for a validation error raised by ``Rule``: the first name it quotes."""
    for node in ast.walk(fn):
        ident = getattr(node, "id", None) or getattr(node, "arg", None)
        if ident and f"'{ident}'" in message:
            return _pos(node)
    return _pos(fn)


def _parse_signature(fn: ast.FunctionDef) -> list[tuple[str, float]]:
    a = fn.args
    if fn.decorator_list:
        _fail(fn.decorator_list[0], "decorators are not allowed")
    if fn.returns is not None:
        _fail(fn.returns, "return annotations are not allowed")
    if getattr(fn, "type_params", None):
        _fail(fn, "type parameters are not allowed")
    extra = a.posonlyargs or a.kwonlyargs or a.vararg or a.kwarg
    if extra:
        _fail(fn, "hyper-parameters must be plain 'name=number' arguments (no *, /, **)")
    if len(a.defaults) != len(a.args):
        missing = a.args[len(a.args) - len(a.defaults) - 1]
        _fail(missing, f"hyper-parameter {missing.arg!r} needs a numeric default, e.g. {missing.arg}=0.9")
    params = []
    for arg, default in zip(a.args, a.defaults):
        if arg.annotation is not None:
            _fail(arg.annotation, "annotations are not allowed")
        value = _number(default)
        if value is None:
            _fail(default, f"default of hyper-parameter {arg.arg!r} must be a number")
        params.append((arg.arg, value))
    return params


def _number(node: ast.AST) -> float | None:
    """The value of a (possibly negated) int/float literal, else None."""
    sign = 1.0
    while isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        sign = -sign if isinstance(node.op, ast.USub) else sign
        node = node.operand
    if isinstance(node, ast.Constant) and type(node.value) in (int, float):
        try:
            value = sign * float(node.value)
        except OverflowError:
            return None
        if value != value or abs(value) == float("inf"):
            return None
        return value
    return None


def _parse_body(fn: ast.FunctionDef, hyper: set[str]) -> tuple[list[Assign], Expr]:
    stmts = fn.body
    if len(stmts) > MAX_STATEMENTS:
        _fail(stmts[MAX_STATEMENTS], f"too many statements; at most {MAX_STATEMENTS} including return")
    body: list[Assign] = []
    for i, stmt in enumerate(stmts):
        if isinstance(stmt, ast.Return):
            if i != len(stmts) - 1:
                _fail(stmts[i + 1], "statements after 'return' are not allowed")
            if stmt.value is None:
                _fail(stmt, "'return' needs an expression: the update direction u")
            return body, _expr(stmt.value, 1)
        body.append(_statement(stmt))
        if body[-1].target in hyper:
            _fail(stmt, f"cannot assign to hyper-parameter {body[-1].target!r}")
    _fail(stmts[-1], "missing 'return EXPR' at the end of the rule")


def _statement(stmt: ast.stmt) -> Assign:
    if isinstance(stmt, ast.Assign):
        if len(stmt.targets) != 1 or not isinstance(stmt.targets[0], ast.Name):
            _fail(stmt, "assign to exactly one plain name, e.g. 'm = 0.9 * m + g'")
        return Assign(_target(stmt.targets[0]), _expr(stmt.value, 1))
    if isinstance(stmt, ast.AugAssign):
        if not isinstance(stmt.op, _AUGMENTED) or not isinstance(stmt.target, ast.Name):
            _fail(stmt, "augmented assignment allows only 'name += -= *= /= expr'")
        name = _target(stmt.target)
        op, _ = _SYNTAX[ast.BinOp, type(stmt.op)]
        return Assign(name, Op(op, (Name(name), _expr(stmt.value, 2))))
    kind = type(stmt).__name__
    if isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant):
        _fail(stmt, "docstrings and bare expressions are not allowed; use # comments")
    _fail(stmt, f"{kind} statements are not allowed: a rule body has only 'name = expr' and 'return expr'")


def _target(node: ast.Name) -> str:
    if node.id in ("g", "p", "t"):
        _fail(node, f"cannot assign to input {node.id!r}: g, p and t are read-only")
    return node.id


def _expr(node: ast.AST, level: int) -> Expr:
    if level > MAX_DEPTH:
        _fail(node, f"expression nested too deeply; at most {MAX_DEPTH} levels")
    value = _number(node)
    if value is not None:
        return Const(value)
    if isinstance(node, ast.Name):
        if node.id in OPS:
            _fail(node, f"{node.id!r} is a function; call it, e.g. {node.id}(x)")
        return Name(node.id)
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.UAdd):
        return _expr(node.operand, level)
    if isinstance(node, ast.Call):
        _check_call(node)
    syntax = _SYNTAX.get(_key(node))
    if syntax is not None:
        op, order = syntax
        operands = _operands(node)
        return Op(op, tuple(_expr(operands[j], level + 1) for j in order))
    if isinstance(node, ast.Compare):
        _fail(node, f"only single comparisons {_COMPARISONS} are allowed")
    if isinstance(node, ast.Constant):
        _fail(node, f"only finite int/float literals are allowed, got {node.value!r}")
    _fail(node, f"{type(node).__name__} is not allowed; allowed: {_ALLOWED}")


def _check_call(node: ast.Call) -> None:
    if not isinstance(node.func, ast.Name):
        _fail(node, f"only calls of the functions {', '.join(FUNCTIONS)} are allowed")
    name = node.func.id
    if name not in FUNCTIONS:
        _fail(node.func, f"unknown function {name!r}; available: {', '.join(FUNCTIONS)}")
    if node.keywords:
        _fail(node.keywords[0], f"{name}() takes positional arguments only")
    arity = OPS[name].arity
    if len(node.args) != arity:
        _fail(node, f"{name}() takes {arity} argument(s), got {len(node.args)}")
