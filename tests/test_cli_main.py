"""The ``graphkit`` entry point: igraph is imported without matplotlib's pyplot."""

from __future__ import annotations

import subprocess
import sys

CODE = """
import sys
from graphkit.cli import _import_igraph_without_pyplot
_import_igraph_without_pyplot()
loaded = sorted(m for m in sys.modules if m.split('.')[0] == 'matplotlib')
import igraph
membership = igraph.Graph([(0, 1), (2, 3)]).connected_components().membership
import matplotlib.pyplot  # still importable afterwards, for the evidence bag's figures
print(loaded, membership, 'matplotlib.pyplot' in sys.modules)
"""


def test_cli_imports_igraph_without_pyplot_and_matplotlib_still_works() -> None:
    out = subprocess.run(
        [sys.executable, "-c", CODE], capture_output=True, text=True, check=True
    ).stdout.strip()
    assert out == "[] [0, 0, 1, 1] True"
