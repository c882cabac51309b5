"""Known optimizers written in the rule language.

Each entry is the rule text and its reference. Every rule that has an Optax
counterpart matches it numerically (see ``tests/test_compilers.py``).
"""

from __future__ import annotations

import functools

from .errors import DSLError
from .parser import parse
from .rule import Rule

_RULES: dict[str, tuple[str, str]] = {
    "sgd": ("Robbins & Monro 1951; optax.sgd.", """
def sgd():
    return g
"""),
    "momentum": ("Heavy ball, Polyak 1964; optax.sgd(momentum=0.9).", """
def momentum(beta=0.9):
    m = beta * m + g
    return m
"""),
    "nesterov": ("Nesterov 1983, Sutskever et al. 2013; optax.sgd(momentum=0.9, nesterov=True).", """
def nesterov(beta=0.9):
    m = beta * m + g
    return g + beta * m
"""),
    "adam": ("Kingma & Ba 2015, arXiv:1412.6980; optax.adam.", """
def adam(b1=0.9, b2=0.999, eps=1e-8):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    mhat = m / (1 - b1**t)
    vhat = v / (1 - b2**t)
    return mhat / (sqrt(vhat) + eps)
"""),
    "adamw": ("Loshchilov & Hutter 2019, arXiv:1711.05101; optax.adamw.", """
def adamw(b1=0.9, b2=0.999, eps=1e-8, weight_decay=1e-4):
    m = b1 * m + (1 - b1) * g
    v = b2 * v + (1 - b2) * g**2
    mhat = m / (1 - b1**t)
    vhat = v / (1 - b2**t)
    return mhat / (sqrt(vhat) + eps) + weight_decay * p
"""),
    "rmsprop": ("Tieleman & Hinton 2012, Lecture 6.5; optax.rmsprop.", """
def rmsprop(decay=0.9, eps=1e-8):
    v = decay * v + (1 - decay) * g**2
    return g * rsqrt(v + eps)
"""),
    "adagrad": ("Duchi, Hazan & Singer 2011, JMLR 12; optax.adagrad (accumulator starts at 0.1).", """
def adagrad(initial_accumulator_value=0.1, eps=1e-7):
    a = a + g**2
    return g * rsqrt(a + initial_accumulator_value + eps)
"""),
    "lion": ("Chen et al. 2023, 'Symbolic Discovery of Optimization Algorithms', arXiv:2302.06675; optax.lion.", """
def lion(b1=0.9, b2=0.99, weight_decay=1e-3):
    u = sign((1 - b1) * g + b1 * m) + weight_decay * p
    m = b2 * m + (1 - b2) * g
    return u
"""),
    "signsgd": ("Bernstein et al. 2018, arXiv:1802.04434; optax.sign_sgd.", """
def signsgd():
    return sign(g)
"""),
    "signum": ("Bernstein et al. 2018, arXiv:1802.04434; optax.signum.", """
def signum(beta=0.9):
    m = beta * m + (1 - beta) * g
    return sign(m)
"""),
    "adabelief": ("Zhuang et al. 2020, arXiv:2010.07468; optax.adabelief.", """
def adabelief(b1=0.9, b2=0.999, eps=1e-16, eps_root=1e-16):
    m = b1 * m + (1 - b1) * g
    s = b2 * s + (1 - b2) * (g - m)**2 + eps_root
    mhat = m / (1 - b1**t)
    shat = s / (1 - b2**t)
    return mhat / (sqrt(shat) + eps)
"""),
    "powersign": ("Bello et al. 2017, 'Neural Optimizer Search', arXiv:1709.07417: alpha**(sign(g)*sign(m)) * g, alpha = e.", """
def powersign(beta=0.9):
    m = beta * m + (1 - beta) * g
    return exp(sign(g) * sign(m)) * g
"""),
    "addsign": ("Bello et al. 2017, 'Neural Optimizer Search', arXiv:1709.07417: (alpha + sign(g)*sign(m)) * g.", """
def addsign(beta=0.9, alpha=1.0):
    m = beta * m + (1 - beta) * g
    return (alpha + sign(g) * sign(m)) * g
"""),
}


def names() -> list[str]:
    """Names of the library rules."""
    return list(_RULES)


@functools.cache
def get(name: str) -> Rule:
    """The library rule ``name`` (see ``names()``)."""
    if name not in _RULES:
        raise DSLError(f"no library rule {name!r}; available: {', '.join(_RULES)}")
    return parse(_RULES[name][1])


def reference(name: str) -> str:
    """Where the rule comes from."""
    get(name)
    return _RULES[name][0]
