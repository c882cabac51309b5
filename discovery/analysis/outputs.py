"""Writing result tables to a folder: CSV rows, a JSON document, a heatmap PNG.

Nothing is overwritten by accident: ``claim_dir`` refuses a folder that
already holds any of the files about to be written unless ``force``. Every
file is written atomically (``runs.files.atomic_write``): an interrupted or
failed write leaves the previous file, never half of a new one.

Example::

    out = claim_dir("runs/demo", ["scores.csv"], force=False)
    write_csv(out / "scores.csv", [{"task": "mf_k4", "score": 0.1}])
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from discovery.runs.files import atomic_write, json_text

COLOR_LIMIT = 3.0  # heatmap colours saturate beyond +-3 decades; cells print the exact value


def claim_dir(out_dir: str | Path, filenames: Iterable[str], force: bool = False) -> Path:
    """Create ``out_dir`` if missing; raise ValueError if it holds any of ``filenames``
    and ``force`` is false. Returns the folder as a Path."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise ValueError(f"output path {out} exists and is not a folder")
    taken = sorted(name for name in filenames if (out / name).exists())
    if taken and not force:
        raise ValueError(
            f"output folder {out} already holds results ({', '.join(taken)}); "
            "use --force (force=True) to overwrite"
        )
    out.mkdir(parents=True, exist_ok=True)
    return out


def write_csv(path: Path, rows: Sequence[Mapping]) -> None:
    """One CSV line per row; the header is the first row's keys (None is written empty)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write(path, text.getvalue().encode())


def write_json(path: Path, doc: Mapping) -> None:
    """Indented, strict JSON (NaN and infinities as the strings NaN, Infinity, -Infinity)."""
    atomic_write(path, (json_text(doc, indent=2) + "\n").encode())


def write_png(fig: Figure, path: Path, dpi: int = 120) -> None:
    """A matplotlib figure as a PNG file."""
    data = io.BytesIO()
    fig.savefig(data, format="png", dpi=dpi)
    atomic_write(path, data.getvalue())


def write_text(path: Path, text: str) -> None:
    """Text (Markdown, a report) as a UTF-8 file."""
    atomic_write(path, text.encode())


def heatmap_png(
    path: Path,
    panels: Mapping[str, np.ndarray],
    rows: Sequence[str],
    cols: Sequence[str],
    title: str,
    colorbar_label: str,
) -> None:
    """Side-by-side heatmaps (one per panel, each ``[len(rows), len(cols)]``, lower is better).

    Colours diverge around 0 (blue below, red above) and saturate at
    ``COLOR_LIMIT``; every cell prints its value, the best of each row in bold;
    NaN cells are left blank.
    """
    width = max(8.0, 2.5 + 0.75 * len(cols) * len(panels))
    fig = Figure(figsize=(width, 2.0 + 0.38 * len(rows)), layout="constrained")
    axes = fig.subplots(1, len(panels), sharey=True, squeeze=False)[0]
    for ax, (name, values) in zip(axes, panels.items()):
        image = ax.imshow(np.ma.masked_invalid(values), cmap="RdBu_r", aspect="auto",
                          vmin=-COLOR_LIMIT, vmax=COLOR_LIMIT)
        ax.set_title(name)
        ax.set_xticks(range(len(cols)), cols, rotation=45, ha="right")
        ax.set_yticks(range(len(rows)), rows)
        for i, row in enumerate(values):
            best = np.nanmin(row) if np.isfinite(row).any() else np.nan
            for j, v in enumerate(row):
                if np.isfinite(v):
                    ax.text(j, i, f"{v:+.1f}", ha="center", va="center", fontsize=7,
                            fontweight="bold" if v == best else "normal",
                            color="white" if abs(v) > 0.6 * COLOR_LIMIT else "black")
    fig.colorbar(image, ax=list(axes), label=colorbar_label, extend="both", shrink=0.8)
    fig.suptitle(title)
    write_png(fig, path)
