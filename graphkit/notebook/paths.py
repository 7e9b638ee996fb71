"""Where a notebook finds the bundled sample and where it may write.

Notebooks run from the repository root (CI) or from ``notebooks/`` (an
investigator opening them): :func:`find_sample` searches upwards from the
working directory for ``data/sample``. Notebooks never write into ``data/``:
:func:`output_dir` gives a folder under ``runs/notebooks/`` (gitignored), or
under ``$GRAPHKIT_NOTEBOOK_OUT`` when set (the notebook tests point it at a
temporary directory).

Examples
--------
>>> from graphkit.notebook.paths import find_sample
>>> find_sample().name  # doctest: +SKIP
'sample'
"""

from __future__ import annotations

import os
from pathlib import Path

from graphkit.errors import InputNotFoundError

__all__ = ["OUT_ENV", "SAMPLE_ENV", "find_sample", "output_dir", "repo_root"]

#: Environment variable naming the sample dataset folder explicitly.
SAMPLE_ENV = "GRAPHKIT_SAMPLE"
#: Environment variable naming the folder notebooks write into.
OUT_ENV = "GRAPHKIT_NOTEBOOK_OUT"

_MARKER = Path("data") / "sample" / "orders.parquet"


def repo_root(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the nearest folder at or above ``start`` (default: cwd) holding ``data/sample``.

    Raises
    ------
    InputNotFoundError
        When no parent folder has ``data/sample/orders.parquet``.

    Examples
    --------
    >>> (repo_root() / "data" / "sample").is_dir()  # doctest: +SKIP
    True
    """
    here = Path(start if start is not None else Path.cwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / _MARKER).is_file():
            return folder
    raise InputNotFoundError(
        f"no data/sample found at or above {here}; run the notebook from the graphkit "
        f"repository (root or notebooks/) or set {SAMPLE_ENV} to the sample folder"
    )


def find_sample(start: str | os.PathLike[str] | None = None) -> Path:
    """Return the bundled sample dataset folder (``$GRAPHKIT_SAMPLE`` wins when set).

    Examples
    --------
    >>> find_sample()  # doctest: +SKIP
    PosixPath('/work/main/data/sample')
    """
    env = os.environ.get(SAMPLE_ENV)
    if env:
        path = Path(env)
        if not path.is_dir():
            raise InputNotFoundError(f"{SAMPLE_ENV}={env} is not a folder")
        return path
    return repo_root(start) / "data" / "sample"


def output_dir(name: str, start: str | os.PathLike[str] | None = None) -> Path:
    """Return (creating it) the folder a notebook named ``name`` writes into.

    ``$GRAPHKIT_NOTEBOOK_OUT/<name>`` when that variable is set, else
    ``<repo>/runs/notebooks/<name>`` (``runs/`` is gitignored). Never ``data/``.

    Examples
    --------
    >>> output_dir("01-quickstart")  # doctest: +SKIP
    PosixPath('/work/main/runs/notebooks/01-quickstart')
    """
    if not name or "/" in name or "\\" in name or name in {".", ".."}:
        raise ValueError(f"output_dir needs a plain folder name, found {name!r}")
    env = os.environ.get(OUT_ENV)
    base = Path(env) if env else repo_root(start) / "runs" / "notebooks"
    out = base / name
    out.mkdir(parents=True, exist_ok=True)
    return out
