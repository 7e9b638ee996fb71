"""Planted violations, one function per scenario, and the order they are planted in.

Each ``plant_*`` function adds its actors to the population (so they also get
honest background activity), writes the violating records and labels the
violating accounts and entities. See each module for who counts as violating.
"""

from __future__ import annotations

from collections.abc import Callable

from graphkit.simulate.population import Population
from graphkit.simulate.scenarios.cases import (
    plant_case_after_refund,
    plant_false_claims,
    plant_retaliation,
)
from graphkit.simulate.scenarios.conduct import plant_extortion, plant_spam, plant_unpaid_serial
from graphkit.simulate.scenarios.coupons import (
    plant_coupon_multi_account,
    plant_coupon_self_dealing,
)
from graphkit.simulate.scenarios.rings import (
    plant_dsr_manipulation,
    plant_feedback_trading,
    plant_ring,
)
from graphkit.simulate.world import World

__all__ = ["PLANTERS", "plant_all"]

Planter = Callable[[World, Population], None]

#: Scenario name -> function planting it from the world's config, in planting order.
PLANTERS: dict[str, Planter] = {
    "shill_ring": lambda w, p: plant_ring(w, p, w.config.shill_ring, "shill_ring"),
    "camouflage": lambda w, p: plant_ring(w, p, w.config.camouflage, "camouflage"),
    "feedback_trading": lambda w, p: plant_feedback_trading(w, p, w.config.feedback_trading),
    "dsr_manipulation": lambda w, p: plant_dsr_manipulation(w, p, w.config.dsr_manipulation),
    "feedback_extortion": lambda w, p: plant_extortion(w, p, w.config.feedback_extortion),
    "case_after_refund": lambda w, p: plant_case_after_refund(w, p, w.config.case_after_refund),
    "retaliation_case": lambda w, p: plant_retaliation(w, p, w.config.retaliation_case),
    "false_claims": lambda w, p: plant_false_claims(w, p, w.config.false_claims),
    "unpaid_serial": lambda w, p: plant_unpaid_serial(w, p, w.config.unpaid_serial),
    "spam": lambda w, p: plant_spam(w, p, w.config.spam),
    "coupon_multi_account": lambda w, p: plant_coupon_multi_account(
        w, p, w.config.coupon_multi_account
    ),
    "coupon_self_dealing": lambda w, p: plant_coupon_self_dealing(
        w, p, w.config.coupon_self_dealing
    ),
}


def plant_all(world: World, pop: Population) -> None:
    """Plant every scenario of the world's config, in :data:`PLANTERS` order."""
    for plant in PLANTERS.values():
        plant(world, pop)
