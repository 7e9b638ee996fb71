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
"""

from __future__ import annotations

from graphkit.dataset import Dataset
from graphkit.errors import ConfigError, DataContractError, GraphkitError, InputNotFoundError
from graphkit.io import load_dataset, validate_dataset, write_dataset

__version__ = "0.1.0"

__all__ = [
    "ConfigError",
    "DataContractError",
    "Dataset",
    "GraphkitError",
    "InputNotFoundError",
    "__version__",
    "load_dataset",
    "validate_dataset",
    "write_dataset",
]
