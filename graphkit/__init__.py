"""graphkit: graph analytics for marketplace trust & safety.

Turns a marketplace's orders, feedback, messages, cases and coupons into a
buyer–seller graph, finds the groups that act together and the ratings that
are not what honest buyers give, and checks every marketplace policy,
producing findings with evidence and a recommended action.

Examples
--------
>>> import graphkit
>>> graphkit.__version__
'0.1.0'
>>> market = graphkit.simulate(2_000, seed=1)          # doctest: +SKIP
>>> ds = graphkit.dataset_from_frames(market.tables)    # doctest: +SKIP
>>> result = graphkit.scan(ds, seed=0)                  # doctest: +SKIP
>>> result.findings.select("rule_id", "severity", "explanation")  # doctest: +SKIP
"""

from __future__ import annotations

__version__ = "0.1.0"

import sys
import types
from typing import Any

# first: polars' allocator setting must be made before polars is imported
from graphkit import _allocator  # noqa: F401
from graphkit.dataset import Dataset
from graphkit.errors import ConfigError, DataContractError, GraphkitError, InputNotFoundError
from graphkit.evaluate import Evaluation, evaluate, evaluate_run
from graphkit.io import dataset_from_frames, load_dataset, validate_dataset, write_dataset
from graphkit.scan import ScanResult, scan

#: Loaded on first use (the simulator is not needed to scan a dataset).
_LAZY = {
    "SimulatedMarketplace": "graphkit.simulate",
    "SimulationConfig": "graphkit.simulate",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'graphkit' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


class _Package(types.ModuleType):
    """``graphkit.simulate`` is the simulator *function*, imported on first access.

    A property (not ``__getattr__``) because importing the ``graphkit.simulate``
    sub-package sets that attribute to the module; the setter keeps the function.
    """

    @property
    def simulate(self) -> Any:
        from graphkit.simulate import simulate

        return simulate

    @simulate.setter
    def simulate(self, value: Any) -> None:
        pass  # the sub-package being bound by the import system: keep the function


sys.modules[__name__].__class__ = _Package

__all__ = [
    "ConfigError",
    "DataContractError",
    "Dataset",
    "Evaluation",
    "GraphkitError",
    "InputNotFoundError",
    "ScanResult",
    "SimulatedMarketplace",
    "SimulationConfig",
    "__version__",
    "dataset_from_frames",
    "evaluate",
    "evaluate_run",
    "load_dataset",
    "scan",
    "simulate",
    "validate_dataset",
    "write_dataset",
]
