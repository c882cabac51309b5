"""The optimizer rule language: parse, print, compile to Optax, encode, hash, store."""

from .errors import DSLError
from .interpreter import Program, encode, interpreter, interpreter_transform
from .native import optimizer_factory, scale_by_rule, to_optax
from .parser import parse
from .rule import Assign, Const, Name, Op, Rule

__all__ = [
    "Assign", "Const", "DSLError", "Name", "Op", "Rule",
    "Program", "encode", "interpreter", "interpreter_transform", "optimizer_factory", "parse", "scale_by_rule", "to_optax",
]
