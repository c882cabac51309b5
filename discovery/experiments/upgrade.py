"""The experiment's files written by older code, brought to the current form in one place.

No file of the experiment carries a version: an older form is known by the fields it has or
lacks. ``experiment`` takes ``experiment.json``'s plain data before the codec reads it
(``from_dict`` knows the current form only). The experiment has one design, rounds of selection
on a shared pool; a folder of an earlier design (evolution arms with a fixed optimizer, the MLP
design before pools, one round of selection) cannot be resumed by it: ``experiment`` refuses it
with ``EarlierDesignError``, naming the commit whose code reproduces its report.

The pools (``pools/s<seed>.json``) and the panels' cells (``cells/<panel>-s<seed>.json``) have
only ever had their current form.
"""

from __future__ import annotations

from typing import Any

# The last commit with the evolution-arm estimator and the MLP design before pools.
EARLIER_DESIGN_COMMIT = "c88c26b"
_EARLIER_FIELDS = ("fixed", "top_k", "generations")


class EarlierDesignError(ValueError):
    """An experiment folder written by an earlier design of the experiment."""


def experiment(data: Any) -> Any:
    """``experiment.json``'s data in the current form (data of another shape is left for the reader
    to refuse, naming the field)."""
    if not isinstance(data, dict) or not isinstance(data.get("config"), dict):
        return data
    config = data["config"]
    if any(k in config for k in _EARLIER_FIELDS) or "rounds" not in config:
        raise EarlierDesignError(
            "written by an earlier design of the experiment (evolution arms, or no rounds of selection); "
            f"its report reproduces with the code of commit {EARLIER_DESIGN_COMMIT} "
            f"(git checkout {EARLIER_DESIGN_COMMIT}, then the command of its report)")
    return data
