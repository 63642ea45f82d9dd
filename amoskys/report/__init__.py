"""Reports: pure functions from the history store's records to text.

* :func:`render_html` / :func:`render_json` — one run as a self-contained HTML page or as data.
* :func:`render_stats` / :func:`stats_json` — ``amoskys stats`` as terminal text or as data.
* :func:`parse_since` — ``--since 30d`` / ``12h`` / ``2w`` / ``90m`` / ``2026-01-31``.

Nothing here reads the database or the disk: callers pass the records (and the log tails).
"""

from __future__ import annotations

from amoskys.report.html import render_html, render_json
from amoskys.report.stats_view import parse_since, render_stats, stats_json

__all__ = ["parse_since", "render_html", "render_json", "render_stats", "stats_json"]
