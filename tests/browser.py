"""A headless Chromium from the system packages, for the tests of the HTML reports and the docs'
screenshot: load a page, keep its DOM after the scripts ran, its console messages, a screenshot."""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
import pytest

CHROMIUM = next((shutil.which(n) for n in ("chromium", "chromium-browser", "google-chrome") if shutil.which(n)), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None, reason="no chromium on PATH (apt-get install chromium; .ci/run installs it)")
REMOTE = re.compile(r"""<(?:script|link|img|iframe|source|embed)\b[^>]*\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""",
                    re.IGNORECASE)  # an element that would fetch from the network


def load(page: Path, shot: Path, width: int = 1200, height: int = 2400) -> subprocess.CompletedProcess:
    """Open ``page`` in a fresh profile, with no network of its own: the DOM after the page's
    scripts ran (stdout), its console messages (stderr), a ``width`` x ``height`` screenshot."""
    with tempfile.TemporaryDirectory(prefix="chromium-profile-") as profile:
        return subprocess.run(
            [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
             "--disable-background-networking", "--disable-component-update", "--disable-sync",
             f"--user-data-dir={profile}", "--hide-scrollbars", f"--window-size={width},{height}",
             "--virtual-time-budget=10000", "--enable-logging=stderr", "--v=0", f"--screenshot={shot}",
             "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120)


def console(done: subprocess.CompletedProcess) -> list[str]:
    """The page's console messages (an uncaught script error is one)."""
    return [line for line in done.stderr.splitlines() if ":CONSOLE" in line]


def drawn(dom: str, div: str) -> bool:
    """plotly drew the chart ``div``: its element holds plotly's SVG."""
    start = dom.find(f'id="{div}"')
    return start >= 0 and "main-svg" in dom[start:start + 5000]


def ink(shot: Path) -> tuple[float, int]:
    """A screenshot's share of dark pixels and its number of distinct colours (blank: 0 and 1)."""
    from PIL import Image

    pixels = np.asarray(Image.open(shot).convert("RGB"))
    return float((pixels.min(axis=2) < 200).mean()), len(np.unique(pixels.reshape(-1, 3), axis=0))
