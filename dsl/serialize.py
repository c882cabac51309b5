"""Rules as msgpack bytes, with a format version.

Layout: ``{"format": "optimizer-rule", "version": 1, "name": str,
"params": [[name, default], ...], "body": [[target, expr], ...], "result": expr}``
where an expression is a float (constant), a str (name) or
``[op, arg, ...]``. Loading only reads data and builds a validated ``Rule``;
anything else is a ``DSLError``.
"""

from __future__ import annotations

import msgpack

from .errors import DSLError
from .expr import Assign, Const, Expr, Name, Op
from .ops import OPS
from .rule import MAX_DEPTH, Rule

FORMAT = "optimizer-rule"
VERSION = 1
MAX_BYTES = 1 << 20


def _pack_expr(e: Expr):
    if isinstance(e, Const):
        return e.value
    if isinstance(e, Name):
        return e.id
    return [e.op, *(_pack_expr(a) for a in e.args)]


def to_dict(rule: Rule) -> dict:
    """The rule as plain data (what ``dumps`` packs)."""
    return {
        "format": FORMAT,
        "version": VERSION,
        "name": rule.name,
        "params": [[n, v] for n, v in rule.params],
        "body": [[a.target, _pack_expr(a.value)] for a in rule.body],
        "result": _pack_expr(rule.result),
    }


def dumps(rule: Rule) -> bytes:
    return msgpack.packb(to_dict(rule), use_bin_type=True)


def _unpack_expr(data, level: int = 1) -> Expr:
    if level > MAX_DEPTH:
        raise DSLError(f"expression nested deeper than {MAX_DEPTH}")
    if isinstance(data, float) or (isinstance(data, int) and not isinstance(data, bool)):
        return Const(float(data))
    if isinstance(data, str):
        return Name(data)
    if isinstance(data, list) and data and isinstance(data[0], str) and data[0] in OPS:
        return Op(data[0], tuple(_unpack_expr(a, level + 1) for a in data[1:]))
    raise DSLError(f"malformed expression in rule data: {str(data)[:80]!r}")


def from_dict(data) -> Rule:  # not discovery's codec: dsl sits below discovery, and a rule is a tree
    """Build a rule from ``to_dict`` data; raises ``DSLError`` on anything malformed."""
    if not isinstance(data, dict):
        raise DSLError("rule data must be a map")
    if data.get("format") != FORMAT:
        raise DSLError(f"not an optimizer rule (format {data.get('format')!r}, expected {FORMAT!r})")
    if data.get("version") != VERSION:
        raise DSLError(f"unsupported rule format version {data.get('version')!r}; this reads {VERSION}")
    unknown = set(data) - {"format", "version", "name", "params", "body", "result"}
    if unknown:
        raise DSLError(f"unknown fields in rule data: {sorted(map(str, unknown))}")
    try:
        name, params, body = data["name"], data["params"], data["body"]
        if not isinstance(name, str) or not isinstance(params, list) or not isinstance(body, list):
            raise DSLError("rule data: name must be a str, params and body lists")
        parsed_params = []
        for item in params:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)
                    and type(item[1]) in (int, float)):
                raise DSLError(f"malformed hyper-parameter entry {str(item)[:80]!r}")
            parsed_params.append((item[0], float(item[1])))
        statements = []
        for item in body:
            if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
                raise DSLError(f"malformed statement {str(item)[:80]!r}")
            statements.append(Assign(item[0], _unpack_expr(item[1])))
        return Rule(name, tuple(parsed_params), tuple(statements), _unpack_expr(data["result"]))
    except KeyError as e:
        raise DSLError(f"rule data is missing field {e.args[0]!r}") from None


def loads(raw: bytes) -> Rule:
    """Inverse of ``dumps``. Malformed or hostile bytes raise ``DSLError``; nothing is executed."""
    if not isinstance(raw, (bytes, bytearray, memoryview)):
        raise DSLError(f"rule bytes expected, got {type(raw).__name__}")
    if len(raw) > MAX_BYTES:
        raise DSLError(f"rule data too large ({len(raw)} bytes)")
    try:
        data = msgpack.unpackb(bytes(raw), raw=False, strict_map_key=True)
    except Exception as e:  # msgpack raises several types for corrupt input
        raise DSLError(f"cannot decode rule bytes: {type(e).__name__}: {e}") from None
    return from_dict(data)
