"""The optimizer rule language: parse, print, compile to Optax, encode, hash, store."""

from . import library
from .compilations import count_compilations
from .errors import DSLError
from .expr import Assign, Const, Name, Op
from .fingerprint import fingerprint
from .interpreter import Program, encode, interpreter, interpreter_transform
from .native import optimizer_factory, scale_by_rule, to_optax
from .parser import parse
from .python_module import check_export_name, python_module
from .rule import Rule
from .serialize import dumps, from_dict, loads, to_dict
from .simplify import simplify
from .template import template

__all__ = [
    "Assign",
    "Const",
    "DSLError",
    "Name",
    "Op",
    "Program",
    "Rule",
    "check_export_name",
    "count_compilations",
    "dumps",
    "encode",
    "fingerprint",
    "from_dict",
    "interpreter",
    "interpreter_transform",
    "library",
    "loads",
    "optimizer_factory",
    "parse",
    "python_module",
    "scale_by_rule",
    "simplify",
    "template",
    "to_dict",
    "to_optax",
]
