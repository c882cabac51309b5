"""The experiment's files written by older code, brought to the current form in one place.

No file of the experiment carries a version: an older form is known by the fields it lacks.
Each function here takes one kind of file's plain data and gives it what the code that wrote it
ran with, before the codec reads it (``from_dict`` knows the current form only):

* ``experiment``: ``experiment.json`` (its ``config``, a ``preset.Preset``). Written before
  families: the MLP family; before controls: none; before pools: no pool and no measurement
  seeds (the panels trained on the replicate's shifted training seeds), ``pool_top_k`` and the
  control panel at their first values (unused without a pool); ``control_fixed`` (the
  controls' fixed optimizers, before pools) is dropped.
* ``seed``: a seed of ``report.json`` (``findings.SeedResult``); written before pools: none.

The pools (``pools/s<seed>.json``) and the panels' cells (``cells/<panel>-s<seed>.json``) have
only ever had their current form. Data of another shape is left as it is, for the reader to
refuse with a ``RecordError`` naming the field.
"""

from __future__ import annotations

from typing import Any

_BEFORE = {"family": "mlp", "controls": [], "control_panel": ["adam", "momentum", "sgd", "adabelief"],
           "measure_seeds": [], "pool": 0, "pool_top_k": 2}
_DROPPED = ("control_fixed",)


def experiment(data: Any) -> Any:
    """``experiment.json``'s data in the current form."""
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        return data
    config = {**_BEFORE, **data["config"]}
    return {**data, "config": {k: v for k, v in config.items() if k not in _DROPPED}}


def seed(data: Any) -> Any:
    """A seed of ``report.json`` in the current form."""
    return {"pools": {}, **data} if isinstance(data, dict) else data
