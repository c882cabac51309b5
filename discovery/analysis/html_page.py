"""One self-contained HTML page: the scaffolding every report page shares.

A page is a style, escaped text, plotly charts and plotly's JavaScript embedded once in the
head (``document``), so it opens offline and every chart on it shares one bundle (about 5 MB).
Used by ``report_html`` (a run) and ``experiments.report_page`` (the hypothesis experiment).

Example::

    fig = go.Figure(go.Scatter(x=[1, 2], y=[3, 4]))
    text = document("title", [section("a", "A chart", chart(fig, "a"))], footer="by discovery")
"""

from __future__ import annotations

import html

import plotly.graph_objects as go
import plotly.offline

STYLE = """
body { font-family: system-ui, sans-serif; margin: 1.5em auto; max-width: 72em; padding: 0 1em;
       color: #222; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; margin-top: 2em; border-bottom: 1px solid #ddd; }
h3 { font-size: 1em; }
.status { padding: .5em .8em; background: #f3f6fa; border-left: 4px solid #4a7ab5; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(22em, 1fr)); gap: 1em; }
.card { border: 1px solid #ccc; border-radius: 6px; padding: .6em .9em; }
.card.pick { border: 2px solid #c0392b; background: #fff8f6; }
.card h3 { margin: .2em 0 .5em; }
.why { color: #c0392b; font-weight: 600; }
pre { background: #f6f6f6; padding: .5em; overflow-x: auto; font-size: .85em; }
code { background: #f6f6f6; padding: 0 .2em; }
table { border-collapse: collapse; font-size: .85em; margin: .5em 0; }
td, th { padding: .1em .6em; text-align: right; } td:first-child, th:first-child { text-align: left; }
thead th { border-bottom: 1px solid #ccc; }
.tree, .tree ul { list-style: none; padding-left: 1.4em; margin: 0; }
.tree > li { padding-left: 0; } .tree li { position: relative; }
.tree ul li::before { content: "\\2514\\2500 "; position: absolute; left: -1.4em; color: #999; }
.muted { color: #777; }
"""


def escape(text: object) -> str:
    """``text`` as HTML text or an attribute value (quotes escaped too)."""
    return html.escape(str(text), quote=True)


def section(anchor: str, heading: str, content: str) -> str:
    """``content`` (HTML) under an ``<h2>`` heading, linkable as ``#anchor``."""
    return f'<section id="{anchor}"><h2>{escape(heading)}</h2>\n{content}\n</section>'


def chart(fig: go.Figure, anchor: str, height: int = 380) -> str:
    """``fig`` as a ``<div id="{anchor}-chart">`` drawn by the page's one plotly bundle."""
    fig.update_layout(template="plotly_white", height=height, margin={"l": 60, "r": 20, "t": 30, "b": 50})
    return fig.to_html(full_html=False, include_plotlyjs=False, div_id=f"{anchor}-chart",
                       config={"displaylogo": False, "responsive": True})


def document(title: str, body: list[str], footer: str, refresh_s: int | None = None) -> str:
    """The HTML document: ``body`` (HTML parts) under an escaped ``title``, plotly's JavaScript
    inline, ``footer`` (HTML) last; it reloads itself every ``refresh_s`` seconds if given."""
    refresh = "" if refresh_s is None else f'<meta http-equiv="refresh" content="{refresh_s}">'
    return "\n".join([
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">', refresh,
        f"<title>{escape(title)}</title>", f"<style>{STYLE}</style>",
        f'<script type="text/javascript">{plotly.offline.get_plotlyjs()}</script>',
        "</head><body>", *body, f'<p class="muted">{footer}</p>', "</body></html>"])
