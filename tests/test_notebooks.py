"""Every investigator notebook runs top to bottom on data/sample, and is committed clean.

Executed with nbclient on the ``python3`` kernel (ipykernel, from the test
extras), from the repository root as CI does; the quickstart also from
``notebooks/`` as an investigator opening it would. Outputs go to a temporary
folder (``GRAPHKIT_NOTEBOOK_OUT``), never into the repository.
"""

from __future__ import annotations

import time
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
#: Per-notebook wall-clock budget on a busy 2-core machine (each takes ~15-25 s there).
TIMEOUT_S = 120


def _execute(path: Path, cwd: Path) -> tuple[nbformat.NotebookNode, float]:
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=TIMEOUT_S,
        kernel_name="python3",
        resources={"metadata": {"path": str(cwd)}},
    )
    t0 = time.perf_counter()
    client.execute()
    return nb, time.perf_counter() - t0


def _errors(nb: nbformat.NotebookNode) -> list[str]:
    return [
        f"{o.get('ename')}: {o.get('evalue')}"
        for cell in nb.cells
        for o in cell.get("outputs", [])
        if o.get("output_type") == "error"
    ]


def test_the_four_notebooks_exist():
    assert [p.name for p in NOTEBOOKS] == [
        "01-quickstart.ipynb",
        "02-shill-ring-investigation.ipynb",
        "03-dsr-manipulation.ipynb",
        "04-policy-sweep.ipynb",
    ]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path):
    nb = nbformat.read(path, as_version=4)
    nbformat.validate(nb)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: cell {cell.id} has outputs"
            assert cell.execution_count is None, f"{path.name}: cell {cell.id} was executed"


def test_notebooks_match_their_builder(tmp_path):
    """The committed notebooks are exactly what notebooks/build.py writes (no hand edits)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("nb_build", ROOT / "notebooks" / "build.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    built = module.build(tmp_path)
    assert [p.name for p in built] == [p.name for p in NOTEBOOKS]
    for new in built:
        old = ROOT / "notebooks" / new.name
        assert new.read_bytes() == old.read_bytes(), (
            f"re-run python notebooks/build.py ({new.name})"
        )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_from_repo_root(path, tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.delenv("GRAPHKIT_SAMPLE", raising=False)
    default_out = ROOT / "runs" / "notebooks" / path.stem
    existed = default_out.exists()
    nb, seconds = _execute(path, ROOT)
    assert _errors(nb) == []
    assert seconds < TIMEOUT_S
    # every code cell ran, and the notebook shows something (pictures, tables, views)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert all(c.execution_count is not None for c in code)
    kinds = {k for c in code for o in c.outputs for k in o.get("data", {})}
    assert {"text/html", "text/plain"} <= kinds
    if path.stem != "01-quickstart":
        assert "image/png" in kinds
    # outputs went to GRAPHKIT_NOTEBOOK_OUT, not into the repository
    assert default_out.exists() == existed
    if path.stem in ("01-quickstart", "02-shill-ring-investigation"):
        assert (tmp_path / path.stem / "run" / "run.json").is_file()


def test_quickstart_runs_from_the_notebooks_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("GRAPHKIT_NOTEBOOK_OUT", str(tmp_path))
    monkeypatch.delenv("GRAPHKIT_SAMPLE", raising=False)
    nb, _ = _execute(ROOT / "notebooks" / "01-quickstart.ipynb", ROOT / "notebooks")
    assert _errors(nb) == []
    assert (tmp_path / "01-quickstart" / "run" / "findings.parquet").is_file()


def test_a_failing_cell_fails_the_run(tmp_path):
    """The harness itself: an error in a cell is reported, not swallowed."""
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.v4.new_notebook(
        cells=[nbformat.v4.new_code_cell("raise ValueError('planted')")],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )
    path = tmp_path / "bad.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(CellExecutionError, match="planted"):
        _execute(path, tmp_path)
