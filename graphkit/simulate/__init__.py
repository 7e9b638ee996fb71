"""Seeded marketplace simulator: organic behaviour, planted violations, ground-truth labels.

There is no public labelled buyer-seller dataset with shill rings, so graphkit
makes its own ground truth. :func:`simulate` returns a
:class:`SimulatedMarketplace` whose ``tables`` follow the data contract and
whose ``labels`` say which accounts and entities belong to which planted
scenario. Knobs live in :class:`SimulationConfig` (loadable from TOML with
:func:`load_config`).

Examples
--------
>>> from graphkit.simulate import simulate
>>> m = simulate(2_000, seed=0)
>>> m.tables["orders"].height
2000
"""

from __future__ import annotations

from graphkit.simulate.config import (
    CampaignConfig,
    CaseConfig,
    CouponAbuseConfig,
    DsrConfig,
    OrganicConfig,
    RingConfig,
    ScenarioConfig,
    SimulationConfig,
    TradingConfig,
    UnpaidConfig,
    load_config,
)
from graphkit.simulate.core import SimulatedMarketplace, simulate

__all__ = [
    "CampaignConfig",
    "CaseConfig",
    "CouponAbuseConfig",
    "DsrConfig",
    "OrganicConfig",
    "RingConfig",
    "ScenarioConfig",
    "SimulatedMarketplace",
    "SimulationConfig",
    "TradingConfig",
    "UnpaidConfig",
    "load_config",
    "simulate",
]
