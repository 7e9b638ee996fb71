"""The Jupyter experience: rich views of findings, groups and scan results.

- :func:`finding` / :func:`group`: one finding or group as a frozen view with
  a readable ``repr`` and a rich ``_repr_html_`` (its subgraph drawn when the
  dataset is given); ``.plot(ax)`` draws it again, ``.widget()`` opens the
  interactive :class:`graphkit.widgets.GraphView`.
- :func:`scan_html` / :func:`scan_text`: what ``ScanResult`` shows in a
  notebook and in a terminal.
- :func:`find_sample` / :func:`output_dir`: where notebooks read and write.

Nothing heavy is imported here: matplotlib only when a picture is drawn,
anywidget only when a widget is opened. Every piece of text from the data is
escaped in HTML and stripped of control characters in plain text.

Examples
--------
>>> from graphkit.notebook import esc
>>> esc("<script>")
'&lt;script&gt;'
"""

from __future__ import annotations

from graphkit.notebook.paths import find_sample, output_dir, repo_root
from graphkit.notebook.render import esc, plain, scan_html, scan_text
from graphkit.notebook.views import (
    FindingView,
    GroupView,
    Signal,
    case_subgraph,
    finding,
    group,
)

__all__ = [
    "FindingView",
    "GroupView",
    "Signal",
    "case_subgraph",
    "esc",
    "find_sample",
    "finding",
    "group",
    "output_dir",
    "plain",
    "repo_root",
    "scan_html",
    "scan_text",
]
