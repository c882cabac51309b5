"""Benchmark: DSL-compiled Adam (native and interpreter) vs optax.adam on a small MLP.

Prints ratios against optax.adam measured in the same process (this machine is
noisy), the native compile time, and the compilations a second rule needs.
Run: ``make bench`` or ``python tests/benchmarks/bench_dsl.py``.
"""

from __future__ import annotations

import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np
import optax

import dsl
from dsl import library

STEPS, BATCH, SIZES = 200, 100, (40, 128, 64, 10)
N_LR = 8


def make_problem(seed=0):
    rng = np.random.default_rng(seed)
    x = jnp.asarray(rng.normal(size=(2000, SIZES[0])), jnp.float32)
    y = jnp.asarray(rng.integers(0, SIZES[-1], size=2000))
    keys = jax.random.split(jax.random.PRNGKey(seed), len(SIZES) - 1)
    params = [
        {"w": jax.random.normal(k, (a, b)) / np.sqrt(a), "b": jnp.zeros(b)}
        for k, a, b in zip(keys, SIZES[:-1], SIZES[1:])
    ]

    def loss(params, idx):
        h = x[idx]
        for layer in params[:-1]:
            h = jax.nn.relu(h @ layer["w"] + layer["b"])
        logits = h @ params[-1]["w"] + params[-1]["b"]
        return optax.softmax_cross_entropy_with_integer_labels(logits, y[idx]).mean()

    return params, loss


def trainer(make_opt, loss):
    """jit(train(arg, lr)): 200 scan steps; ``make_opt(arg, lr)`` builds the optimizer."""

    def train(arg, lr, params):
        opt = make_opt(arg, lr)

        def step(carry, i):
            p, s = carry
            idx = jax.random.randint(jax.random.fold_in(jax.random.PRNGKey(0), i), (BATCH,), 0, 2000)
            value, grads = jax.value_and_grad(loss)(p, idx)
            updates, s = opt.update(grads, s, p)
            return (optax.apply_updates(p, updates), s), value

        (_, _), losses = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(STEPS))
        return losses

    return jax.jit(train), jax.jit(jax.vmap(train, in_axes=(None, 0, None)))


def timed(fn, *args, repeats=15):
    jax.block_until_ready(fn(*args))
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        jax.block_until_ready(fn(*args))
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main():
    params, loss = make_problem()
    n_params = sum(x.size for x in jax.tree.leaves(params))
    adam = library.get("adam")
    program = dsl.encode(adam)
    lrs = jnp.asarray(np.logspace(-4, -1, N_LR), jnp.float32)
    one_lr = jnp.float32(1e-3)

    ref_one, ref_many = trainer(lambda _, lr: optax.adam(lr), loss)
    nat_one, nat_many = trainer(lambda _, lr: dsl.to_optax(adam, lr), loss)
    int_one, int_many = trainer(lambda prog, lr: dsl.interpreter(prog, lr), loss)

    with dsl.count_compilations() as native_compile:
        jax.block_until_ready(nat_one(None, one_lr, params))
    print(f"small MLP: {n_params} parameters, {STEPS} steps, batch {BATCH}")
    print(f"native compile of DSL adam (1 lr): {native_compile.seconds:.2f} s")
    for label, ref, nat, interp, lr in (
        ("1 learning rate", ref_one, nat_one, int_one, one_lr),
        (f"{N_LR} learning rates (vmap)", ref_many, nat_many, int_many, lrs),
    ):
        a = timed(ref, None, lr, params)
        b = timed(nat, None, lr, params)
        c = timed(interp, program, lr, params)
        print(f"[{label}] optax.adam {a * 1e3:.1f} ms | native {b * 1e3:.1f} ms (b/a {b / a:.2f}) "
              f"| interpreter {c * 1e3:.1f} ms (c/a {c / a:.2f})")

    second = dsl.encode(library.get("lion"))
    with dsl.count_compilations() as again:
        jax.block_until_ready(int_many(second, lrs, params))
    print(f"compilations for a second, different rule on the interpreter: {again.count}")


if __name__ == "__main__":
    main()
