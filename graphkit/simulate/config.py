"""Simulation settings: organic behaviour and one dataclass per planted scenario.

Every knob has a default chosen to make detection *possible but not trivial*,
and a comment saying what it moves. Settings are frozen dataclasses, loadable
from a TOML file whose tables mirror the dataclasses::

    [organic]
    days = 120

    [shill_ring]
    count = 5
    linked_share = 0.3

Ranges are written as two-element arrays ``[low, high]`` (inclusive). A top-level
``difficulty = 0.7`` first sets every scenario's knobs for that difficulty
(:meth:`SimulationConfig.at_difficulty`); the tables then override single knobs.

Examples
--------
>>> from graphkit.simulate.config import SimulationConfig
>>> cfg = SimulationConfig()
>>> cfg.shill_ring.count_for(20_000) >= 1
True
>>> cfg.with_scenario("spam", count=0).spam.count_for(10**6)
0
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from graphkit.errors import ConfigError

__all__ = [
    "DIFFICULTY",
    "CampaignConfig",
    "CaseConfig",
    "CouponAbuseConfig",
    "DsrConfig",
    "OrganicConfig",
    "RingConfig",
    "ScenarioConfig",
    "SimulationConfig",
    "TradingConfig",
    "UnpaidConfig",
    "load_config",
]

IntRange = tuple[int, int]
FloatRange = tuple[float, float]


@dataclass(frozen=True)
class OrganicConfig:
    """Honest marketplace behaviour (the haystack).

    Parameters
    ----------
    start
        First day of the simulated window (ISO date, UTC).
    days
        Length of the window in days.
    buyers_per_order, orders_per_seller
        Population sizes relative to the number of orders.
    seller_zipf
        Exponent of Zipf-like seller popularity (higher = more concentrated).
    buyer_activity_sigma
        Sigma of the log-normal buyer activity (heavy tail of repeat buyers).
    new_seller_share
        Share of sellers registered inside the window that grow fast and honestly
        (a false-positive trap for "new account + burst" signals).
    new_buyer_share
        Share of buyers registered inside the window.
    weekend_factor
        Order volume on Saturday/Sunday relative to weekdays (weekly cycle).
    unpaid_rate
        Probability an order is left unpaid; at most one per honest buyer is kept.
    buyer_feedback_rate, seller_feedback_rate
        Probability the buyer / seller rates a paid order.
    dsr_missing_rate
        Share of buyer feedback without DSRs.
    message_rate, presale_rate, thank_you_seller_share
        Orders with a buyer-seller conversation; pre-sale questions without an order;
        sellers that send a templated thank-you to every buyer (solicited bulk).
    dispute_rate, seller_refund_rate, cancel_rate
        Buyer Protection cases, refunds by the seller without a case, cancelled paid orders.
    coupon_rate, store_coupon_seller_share
        Orders redeeming a coupon; sellers issuing store coupons.
    household_share
        Share of buyers living in households of 2-4 that share an address, a home IP
        and sometimes a device.
    nat_share, nat_accounts_per_ip
        Share of accounts seen behind a carrier NAT IP, and accounts per NAT IP.
    warehouse_share
        Share of sellers using a shared fulfilment-centre address.
    loyal_share
        Share of buyers who buy most of the time from one small favourite store
        (honest concentration of spend).
    flash_sale_share
        Share of sellers with a flash sale: a quarter of their orders within 12 hours
        (honest time burst).
    """

    start: str = "2025-01-06"
    days: int = 180
    buyers_per_order: float = 0.3
    orders_per_seller: float = 250.0
    seller_zipf: float = 1.05
    buyer_activity_sigma: float = 1.1
    new_seller_share: float = 0.05
    new_buyer_share: float = 0.25
    weekend_factor: float = 1.35
    unpaid_rate: float = 0.02
    buyer_feedback_rate: float = 0.55
    seller_feedback_rate: float = 0.35
    dsr_missing_rate: float = 0.08
    message_rate: float = 0.10
    presale_rate: float = 0.015
    thank_you_seller_share: float = 0.04
    dispute_rate: float = 0.02
    seller_refund_rate: float = 0.015
    cancel_rate: float = 0.005
    coupon_rate: float = 0.06
    store_coupon_seller_share: float = 0.1
    household_share: float = 0.12
    nat_share: float = 0.25
    nat_accounts_per_ip: int = 300
    warehouse_share: float = 0.2
    loyal_share: float = 0.03
    flash_sale_share: float = 0.02


@dataclass(frozen=True)
class ScenarioConfig:
    """What every planted scenario has: how many instances.

    Parameters
    ----------
    count
        Number of planted instances (rings, campaigns, actors). ``None`` scales with the
        number of orders: ``max(min_count, round(per_100k * n_orders / 100_000))``.
    per_100k
        Instances per 100,000 orders when ``count`` is ``None``.
    min_count
        Lower bound of the scaled count (so small datasets still hold every scenario).
    """

    count: int | None = None
    per_100k: float = 1.0
    min_count: int = 2

    def count_for(self, n_orders: int) -> int:
        """Return the number of instances to plant in a dataset of ``n_orders`` orders."""
        if self.count is not None:
            return int(self.count)
        return max(self.min_count, round(self.per_100k * n_orders / 100_000))


@dataclass(frozen=True)
class RingConfig(ScenarioConfig):
    """A seller and the accounts that buy from it to inflate its ranking and ratings.

    Parameters
    ----------
    size
        Ring buyer accounts per ring.
    orders_per_account
        Ring orders per ring account.
    linked_share
        Share of ring accounts sharing a device/address/payment/IP with the seller or
        with the ring's operator; the rest are not linked at all.
    time_spread_days
        The ring's orders fall within this many days, counted in whole days (times follow
        the daily cycle inside their day); smaller = burstier.
    cheap_share
        Share of ring orders on the store's cheap accessory listings (small orders; honest
        buyers buy those listings too, about 6% of the time, at the same price).
    top_rating_share
        Share of ring feedback that is 5 stars with perfect DSRs (the rest are 4-5).
    feedback_rate
        Share of ring orders the ring buyer rates.
    new_account_days
        Ring accounts register at most this many days before the ring starts.
    aged_share
        Share of ring accounts that are old accounts (registered 200-1500 days before),
        so "new account" is not a sure signal.
    camouflage_orders
        Honest-looking purchases per ring account from popular sellers.
    honest_orders
        Orders the ring's seller gets from honest buyers (it is a real, mediocre store).
    """

    size: IntRange = (4, 12)
    orders_per_account: IntRange = (2, 8)
    linked_share: float = 0.6
    time_spread_days: float = 21.0
    cheap_share: float = 0.8
    top_rating_share: float = 0.9
    feedback_rate: float = 0.95
    new_account_days: float = 30.0
    aged_share: float = 0.15
    camouflage_orders: IntRange = (0, 0)
    honest_orders: IntRange = (10, 60)


@dataclass(frozen=True)
class TradingConfig(ScenarioConfig):
    """Sellers whose own buyer accounts rate each other's stores (feedback trading).

    Parameters
    ----------
    sellers
        Sellers per trading circle.
    accounts_per_seller
        Buyer accounts controlled by each seller (linked to it).
    orders_per_account
        Orders each controlled account places at the *other* sellers of the circle.
    linked_share
        Share of controlled accounts that share an identifier with their seller.
    time_spread_days
        Window of the circle's activity.
    """

    per_100k: float = 0.5
    sellers: IntRange = (3, 5)
    accounts_per_seller: IntRange = (2, 4)
    orders_per_account: IntRange = (2, 5)
    linked_share: float = 0.7
    time_spread_days: float = 45.0


@dataclass(frozen=True)
class DsrConfig(ScenarioConfig):
    """Paid top ratings and DSR bursts on a seller, later refunded.

    Parameters
    ----------
    reviewers
        Paid reviewer accounts per campaign (not linked to the seller).
    burst_days
        The paid orders fall within this many days.
    refund_share
        Share of paid orders refunded by the seller after the feedback.
    background_orders
        Honest-looking purchases per reviewer account.
    """

    per_100k: float = 0.8
    reviewers: IntRange = (8, 25)
    burst_days: float = 5.0
    refund_share: float = 0.85
    background_orders: IntRange = (0, 4)


@dataclass(frozen=True)
class CampaignConfig(ScenarioConfig):
    """A single actor's campaign (extortion, spam, retaliation, ...).

    Parameters
    ----------
    events
        Violating events per actor (threats, spam messages, cases, unpaid orders).
    background_orders
        Honest-looking orders per actor.
    comply_share
        Extortion: share of threats the seller gives in to (the rating is then 5).
    spread_days
        Window of the actor's violating events.
    """

    events: IntRange = (2, 5)
    background_orders: IntRange = (2, 12)
    comply_share: float = 0.25
    spread_days: float = 60.0


@dataclass(frozen=True)
class CaseConfig(CampaignConfig):
    """Buyer Protection abuse by a buyer.

    Parameters
    ----------
    rejected_share
        False claims: share of the buyer's cases that are rejected.
    case_share
        False claims: share of the buyer's orders with a case.
    """

    rejected_share: float = 0.75
    case_share: float = 0.6


@dataclass(frozen=True)
class UnpaidConfig(CampaignConfig):
    """A buyer who repeatedly commits to buy and never pays.

    Parameters
    ----------
    overdue_share
        Share of the unpaid orders older than the 20-day payment period.
    cancelled_share
        Share of the unpaid orders later cancelled.
    """

    events: IntRange = (3, 9)
    overdue_share: float = 0.9
    cancelled_share: float = 0.3


@dataclass(frozen=True)
class CouponAbuseConfig(ScenarioConfig):
    """Coupon abuse through linked accounts.

    Parameters
    ----------
    accounts
        Linked accounts per person (multi-account) or per store (self-dealing).
    redemptions_per_account
        Coupon redemptions per account.
    out_of_terms_share
        Self-dealing: share of redemptions outside validity or below ``min_spend``.
    linked_kinds
        Identifier kinds shared by the linked accounts.
    """

    accounts: IntRange = (3, 8)
    redemptions_per_account: IntRange = (1, 1)
    out_of_terms_share: float = 0.3
    linked_kinds: tuple[str, ...] = ("device", "payment")


@dataclass(frozen=True)
class SimulationConfig:
    """Every setting of the simulator: organic behaviour plus each planted scenario.

    Examples
    --------
    >>> cfg = SimulationConfig().with_scenario("shill_ring", count=3, linked_share=0.2)
    >>> cfg.shill_ring.count, cfg.shill_ring.linked_share
    (3, 0.2)
    """

    organic: OrganicConfig = field(default_factory=OrganicConfig)
    shill_ring: RingConfig = field(default_factory=lambda: RingConfig(per_100k=1.0))
    camouflage: RingConfig = field(
        default_factory=lambda: RingConfig(
            per_100k=0.6,
            linked_share=0.4,
            time_spread_days=60.0,
            cheap_share=0.5,
            top_rating_share=0.75,
            camouflage_orders=(3, 15),
            new_account_days=120.0,
            aged_share=0.3,
        )
    )
    feedback_trading: TradingConfig = field(default_factory=TradingConfig)
    dsr_manipulation: DsrConfig = field(default_factory=DsrConfig)
    feedback_extortion: CampaignConfig = field(
        default_factory=lambda: CampaignConfig(per_100k=2.0, events=(1, 4))
    )
    case_after_refund: CaseConfig = field(
        default_factory=lambda: CaseConfig(per_100k=2.0, events=(1, 3))
    )
    retaliation_case: CaseConfig = field(
        default_factory=lambda: CaseConfig(per_100k=2.0, events=(1, 3))
    )
    false_claims: CaseConfig = field(
        default_factory=lambda: CaseConfig(per_100k=1.5, events=(6, 14), background_orders=(0, 3))
    )
    unpaid_serial: UnpaidConfig = field(default_factory=lambda: UnpaidConfig(per_100k=3.0))
    spam: CampaignConfig = field(
        default_factory=lambda: CampaignConfig(
            per_100k=1.0, events=(40, 200), background_orders=(0, 3), spread_days=4.0
        )
    )
    coupon_multi_account: CouponAbuseConfig = field(default_factory=CouponAbuseConfig)
    coupon_self_dealing: CouponAbuseConfig = field(
        default_factory=lambda: CouponAbuseConfig(
            per_100k=0.8, accounts=(2, 6), redemptions_per_account=(1, 3)
        )
    )

    def with_scenario(self, name: str, **changes: Any) -> SimulationConfig:
        """Return a copy with the settings of scenario (or ``organic``) ``name`` changed."""
        if name not in {f.name for f in fields(self)}:
            raise ConfigError(
                f"unknown simulation section {name!r}; expected one of "
                f"{', '.join(f.name for f in fields(self))}"
            )
        current = getattr(self, name)
        try:
            return replace(self, **{name: replace(current, **changes)})
        except TypeError as err:
            raise ConfigError(f"invalid setting for [{name}]: {err}") from None

    def at_difficulty(self, level: float) -> SimulationConfig:
        """Return a copy whose scenario knobs are set for a difficulty in ``[0, 1]``.

        0 is easy (big dense rings, every account linked, bursts, tiny amounts, loud
        campaigns), 1 is hard (small sparse rings, few links, aged and camouflaged
        accounts, amounts and timing close to honest trade, quiet campaigns). Knobs are
        interpolated linearly between the two ends (see :data:`DIFFICULTY`); about 0.5
        is close to the defaults. Counts and organic settings are left unchanged.

        Examples
        --------
        >>> hard = SimulationConfig().at_difficulty(1.0)
        >>> hard.shill_ring.linked_share, hard.camouflage.camouflage_orders
        (0.15, (10, 30))
        """
        if not 0.0 <= level <= 1.0:
            raise ConfigError(f"difficulty must be in [0, 1]; got {level}")
        cfg = self
        for section, knobs in DIFFICULTY.items():
            changes = {k: _lerp(easy, hard, level) for k, (easy, hard) in knobs.items()}
            cfg = cfg.with_scenario(section, **changes)
        return cfg

    def scenario_names(self) -> list[str]:
        """Names of the planted scenarios, in generation order."""
        return [f.name for f in fields(self) if f.name != "organic"]


def _lerp(easy: Any, hard: Any, t: float) -> Any:
    if isinstance(easy, tuple):
        return tuple(_lerp(a, b, t) for a, b in zip(easy, hard, strict=True))
    value = easy + (hard - easy) * t
    return round(value) if isinstance(easy, int) else round(value, 4)


_RING_EASY_HARD: dict[str, tuple[Any, Any]] = {
    "size": ((8, 15), (3, 6)),
    "orders_per_account": ((5, 10), (1, 3)),
    "linked_share": (0.95, 0.15),
    "time_spread_days": (7.0, 90.0),
    "cheap_share": (1.0, 0.15),
    "top_rating_share": (0.98, 0.6),
    "aged_share": (0.0, 0.5),
}

#: Difficulty knobs per scenario: ``knob -> (value at 0 = easy, value at 1 = hard)``.
DIFFICULTY: dict[str, dict[str, tuple[Any, Any]]] = {
    "shill_ring": {**_RING_EASY_HARD, "camouflage_orders": ((0, 0), (0, 4))},
    "camouflage": {**_RING_EASY_HARD, "camouflage_orders": ((2, 5), (10, 30))},
    "feedback_trading": {
        "linked_share": (0.95, 0.2),
        "orders_per_account": ((4, 8), (1, 2)),
        "time_spread_days": (14.0, 120.0),
    },
    "dsr_manipulation": {
        "reviewers": ((20, 40), (4, 8)),
        "burst_days": (2.0, 20.0),
        "refund_share": (1.0, 0.4),
        "background_orders": ((0, 0), (3, 10)),
    },
    "feedback_extortion": {"events": ((3, 6), (1, 1)), "comply_share": (0.0, 0.6)},
    "case_after_refund": {"events": ((3, 5), (1, 1)), "background_orders": ((0, 2), (10, 30))},
    "retaliation_case": {"events": ((3, 5), (1, 1)), "background_orders": ((0, 2), (10, 30))},
    "false_claims": {
        "events": ((10, 20), (5, 8)),
        "case_share": (0.9, 0.35),
        "rejected_share": (0.95, 0.45),
        "background_orders": ((0, 0), (10, 25)),
    },
    "unpaid_serial": {
        "events": ((6, 12), (3, 3)),
        "overdue_share": (1.0, 0.6),
        "background_orders": ((0, 2), (10, 30)),
    },
    "spam": {"events": ((150, 300), (15, 30)), "spread_days": (1.0, 20.0)},
    "coupon_multi_account": {"accounts": ((6, 10), (2, 3))},
    "coupon_self_dealing": {"accounts": ((5, 8), (1, 2)), "out_of_terms_share": (0.8, 0.1)},
}


def _coerce(value: Any, default: Any) -> Any:
    if isinstance(default, tuple):
        if not isinstance(value, list | tuple):
            raise ConfigError(f"expected an array, found {value!r}")
        return tuple(value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    return value


def load_config(path: str | Path, *, base: SimulationConfig | None = None) -> SimulationConfig:
    r"""Load a :class:`SimulationConfig` from a TOML file (missing keys keep defaults).

    Parameters
    ----------
    path
        A TOML file with optional tables ``[organic]``, ``[shill_ring]``, ... and an
        optional top-level ``difficulty``.
    base
        The settings the file changes (default :class:`SimulationConfig`).

    Returns
    -------
    SimulationConfig

    Examples
    --------
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "s.toml"
    >>> _ = p.write_text("[spam]\ncount = 4\nevents = [10, 20]\n")
    >>> load_config(p).spam.events
    (10, 20)
    """
    path = Path(path)
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(f"simulation config {path} does not exist") from None
    except tomllib.TOMLDecodeError as err:
        raise ConfigError(f"simulation config {path} is not valid TOML: {err}") from None
    cfg = SimulationConfig() if base is None else base
    if "difficulty" in raw:
        level = raw.pop("difficulty")
        if not isinstance(level, int | float) or isinstance(level, bool):
            raise ConfigError(f"{path}: difficulty must be a number in [0, 1]; got {level!r}")
        cfg = cfg.at_difficulty(float(level))
    for section, values in raw.items():
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table of settings")
        if section not in {f.name for f in fields(cfg)}:
            raise ConfigError(
                f"{path}: unknown section [{section}]; expected one of "
                f"{', '.join(f.name for f in fields(cfg))}"
            )
        current = getattr(cfg, section)
        known = {f.name: getattr(current, f.name) for f in dataclasses.fields(current)}
        changes = {}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(
                    f"{path}: unknown setting {key!r} in [{section}]; "
                    f"expected one of {', '.join(sorted(known))}"
                )
            changes[key] = _coerce(value, known[key])
        cfg = cfg.with_scenario(section, **changes)
    return cfg
