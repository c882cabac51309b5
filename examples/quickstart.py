import jax.numpy as jnp
import numpy as np

import discovery
from discovery import tasks

rng = np.random.default_rng(0)
x = rng.normal(size=(500, 10)).astype(np.float32)
y = np.sign(x @ rng.normal(size=10)).astype(np.float32)

def loss(params, batch):  # your model and loss: here logistic regression, labels +-1
    return jnp.mean(jnp.logaddexp(0.0, -batch["y"] * (batch["x"] @ params["w"] + params["b"])))

task = tasks.make_task("my_logreg", loss, lambda key: {"w": jnp.zeros(10), "b": jnp.zeros(())},
                       {"x": x, "y": y}, batch_size=64)
run = discovery.search([task], held_out=["mf_k1"], generations=3, population=8, steps=50)
print(run.table(top=5))             # scores vs tuned Adam; '>' marks the recommended rule
opt = run.to_optax()                # that rule as an optax.GradientTransformation, or as a module
run.export(path="my_optimizer.py", name="my_optimizer", force=True)  # that needs only jax and optax
