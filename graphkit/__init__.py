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

from graphkit.dataset import Dataset
from graphkit.errors import ConfigError, DataContractError, GraphkitError, InputNotFoundError
from graphkit.evaluate import Evaluation, evaluate, evaluate_run
from graphkit.io import dataset_from_frames, load_dataset, validate_dataset, write_dataset
from graphkit.scan import ScanResult, scan
from graphkit.simulate import SimulatedMarketplace, SimulationConfig, simulate

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
