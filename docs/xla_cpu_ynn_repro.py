"""Reproduction: XLA:CPU (jaxlib 0.10.2) returns NaN for a loss that is exactly log(10).

Plain JAX, no other library. A softmax-regression training (``lax.scan`` over 20 SGD steps,
vmapped over 5-8 learning rates x 3 seeds) also returns the loss at the initial parameters,
which are zero: every lane must be log(10) = 2.302585. Each loop iteration builds a new
function, so each is a new XLA compilation. On jaxlib 0.10.2 (Linux x86_64, 2 cores) some of
them return NaN in every lane, on every call of that executable:

    16/100 as written (20 steps), 10/100 with 300 steps, 4/100 with 300 steps and fixed
    minibatch indices instead of jax.random, 3/100 with one vmap (over the lrs), 0/100 with
    one step and no scan; and with XLA_FLAGS=--xla_cpu_experimental_ynn_fusion_type= (no
    YNNPACK fusions) 0 of the same counts.

Run:  python docs/xla_cpu_ynn_repro.py [N]
"""

import sys
import time

import jax
import jax.numpy as jnp
import numpy as np

n_compiles = int(sys.argv[1]) if len(sys.argv) > 1 else 100
rng = np.random.default_rng(0)
x = jnp.asarray(rng.standard_normal((4000, 50)), jnp.float32)
y = jnp.asarray(rng.integers(0, 10, 4000), jnp.int32)


def loss(p, x, y):
    logp = jax.nn.log_softmax(x @ p["w"] + p["b"], axis=-1)
    return -jnp.mean(jnp.take_along_axis(logp, y[:, None], axis=-1))


def make():
    def run(lr, seed, x, y):
        key = jax.random.key(seed)
        p = {"w": jnp.zeros((50, 10)), "b": jnp.zeros((10,))}

        def step(p, i):
            idx = jax.random.randint(jax.random.fold_in(key, i), (100,), 0, 4000)
            value, g = jax.value_and_grad(loss)(p, x[idx], y[idx])
            return jax.tree.map(lambda a, b: a - lr * b, p, g), value

        initial = loss(p, x, y)  # p is zero: log(10) exactly
        p, curve = jax.lax.scan(step, p, jnp.arange(20))
        return curve, initial, loss(p, x, y)

    return jax.jit(jax.vmap(jax.vmap(run, (None, 0, None, None)), (0, None, None, None)))


bad, start = 0, time.time()
for i in range(n_compiles):
    lanes = 5 + i % 4
    fn = make()
    args = (jnp.logspace(-4, 0, lanes), jnp.arange(3, dtype=jnp.uint32), x, y)
    calls = [bool(np.allclose(np.asarray(fn(*args)[1]), np.log(10.0), rtol=1e-6)) for _ in range(3)]
    if not calls[0]:
        bad += 1
        print(f"compilation {i} ({lanes} lrs): initial loss {np.asarray(fn(*args)[1]).ravel()[:3]}, "
              f"calls correct: {calls}", flush=True)
print(f"jax {jax.__version__}: {bad}/{n_compiles} compilations returned a wrong initial loss "
      f"({time.time() - start:.0f} s)")
