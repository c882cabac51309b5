"""The optimizer rule language: parse, print, compile to Optax, encode, hash, store."""

from .compilations import count_compilations
from .errors import DSLError
from . import library
from .interpreter import Program, encode, interpreter, interpreter_transform
from .native import optimizer_factory, scale_by_rule, to_optax
from .parser import parse
from .rule import Assign, Const, Name, Op, Rule

__all__ = [
    "Assign", "Const", "DSLError", "count_compilations", "library", "Name", "Op", "Rule",
    "Program", "encode", "interpreter", "interpreter_transform", "optimizer_factory", "parse", "scale_by_rule", "to_optax",
]
