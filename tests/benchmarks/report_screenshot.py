"""The docs' screenshot of a run's report.html: a tiny run (``tests/tiny.py``, seconds), its
report with the pick's training curves (``inspect --html --curves``), opened in a headless
Chromium (``tests/browser.py``), the shot saved as a PNG of reduced colours (small in git).

Run: ``make docs-screenshot`` (writes ``docs/report-html.png``), or
``python -m tests.benchmarks.report_screenshot OUT.png --height 3000``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from PIL import Image

from discovery import runs
from discovery.analysis import report_html
from tests import browser
from tests.tiny import tiny

ROOT = Path(__file__).resolve().parents[2]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", default=str(ROOT / "docs" / "report-html.png"))
    parser.add_argument("--width", type=int, default=1200)
    parser.add_argument("--height", type=int, default=3600)
    args = parser.parse_args()
    if browser.CHROMIUM is None:
        raise SystemExit("no chromium on PATH (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as tmp:
        run = runs.run(tiny(), out=tmp, progress=False)
        page = report_html.write(run, curves=True)
        shot = Path(tmp) / "shot.png"
        done = browser.load(page, shot, args.width, args.height)
        if done.returncode != 0 or browser.console(done):
            raise SystemExit(f"chromium failed: {done.stderr[-2000:]}")
        Image.open(shot).convert("RGB").quantize(colors=128).save(args.out, optimize=True)
    print(f"wrote {args.out} from {page.name} of a tiny run")


if __name__ == "__main__":
    main()
