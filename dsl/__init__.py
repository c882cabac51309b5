"""The optimizer rule language: parse, print, compile to Optax, encode, hash, store."""

from . import library
from .compilations import count_compilations
from .errors import DSLError
from .fingerprint import fingerprint
from .interpreter import Program, encode, interpreter, interpreter_transform
from .native import optimizer_factory, scale_by_rule, to_optax
from .parser import parse
from .rule import Assign, Const, Name, Op, Rule
from .serialize import dumps, from_dict, loads, to_dict
from .simplify import simplify
from .template import template

__all__ = [
    "Assign", "Const", "DSLError", "count_compilations", "library", "Name", "Op", "Rule",
    "Program", "encode", "interpreter", "interpreter_transform", "dumps", "fingerprint", "from_dict", "loads", "optimizer_factory", "parse", "simplify", "to_dict", "scale_by_rule", "to_optax",
]
