"""The simulator's working state: seeded randomness, clock, dense internal ids, parts.

Generators (organic behaviour, planted scenarios) append *internal* frames to
a :class:`World`: every entity has a dense ``int64`` internal id handed out by
:meth:`World.ids`, every time is ``int64`` microseconds since the epoch (UTC).
:mod:`graphkit.simulate.assemble` later turns them into the contract's tables
with stable string ids assigned in time order, so an id never reveals which
generator made the row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

import numpy as np
import polars as pl

from graphkit.contract import IDENTIFIER_KINDS
from graphkit.simulate.config import SimulationConfig

__all__ = ["DAY", "HOUR", "INTERNAL", "MINUTE", "World", "splitmix64"]

MINUTE = 60_000_000
HOUR = 60 * MINUTE
DAY = 24 * HOUR

I64 = pl.Int64
F64 = pl.Float64
STR = pl.String
I8 = pl.Int8

#: Identifier kinds as an Enum: 1 byte per row instead of a string; the physical code
#: (position in ``IDENTIFIER_KINDS``) doubles as a sort key.
KIND = pl.Enum(list(IDENTIFIER_KINDS))

#: Internal schemas (ids and times as int64) of every table the generators produce.
INTERNAL: dict[str, dict[str, pl.DataType]] = {
    "accounts": {"acc": I64(), "kind": STR(), "created_at": I64(), "country": STR()},
    "identifiers": {"acc": I64(), "kind": KIND, "serial": I64(), "seen_at": I64()},
    "orders": {
        "oid": I64(),
        "buyer": I64(),
        "seller": I64(),
        "item": I64(),
        "amount": F64(),
        "created_at": I64(),
        "paid_at": I64(),
        "cancelled_at": I64(),
        "coupon": I64(),
        "discount": F64(),
    },
    "feedback": {
        "fid": I64(),
        "oid": I64(),
        "author": I64(),
        "target": I64(),
        "rating": I8(),
        "dsr_item_as_described": I8(),
        "dsr_communication": I8(),
        "dsr_shipping_speed": I8(),
        "created_at": I64(),
        "text": STR(),
    },
    "messages": {
        "mid": I64(),
        "sender": I64(),
        "recipient": I64(),
        "oid": I64(),
        "sent_at": I64(),
        "text": STR(),
    },
    "disputes": {
        "cid": I64(),
        "oid": I64(),
        "opened_by": I64(),
        "opened_at": I64(),
        "reason": STR(),
        "outcome": STR(),
        "closed_at": I64(),
    },
    "refunds": {"rid": I64(), "oid": I64(), "refunded_at": I64(), "amount": F64(), "via": STR()},
    "coupons": {
        "cpid": I64(),
        "issuer": I64(),
        "kind": STR(),
        "value": F64(),
        "min_spend": F64(),
        "per_buyer_limit": I64(),
        "valid_from": I64(),
        "valid_to": I64(),
    },
    "labels": {"entity_kind": STR(), "iid": I64(), "scenario": STR(), "group_id": STR()},
}

#: The internal id column of each table (dense, allocated by ``World.ids``).
ID_COLUMN = {
    "accounts": "acc",
    "orders": "oid",
    "feedback": "fid",
    "messages": "mid",
    "disputes": "cid",
    "refunds": "rid",
    "coupons": "cpid",
}

#: Relative order volume per hour of the day (UTC): quiet nights, evening peak.
_HOURS = np.array(
    [
        0.4,
        0.25,
        0.15,
        0.1,
        0.1,
        0.15,
        0.3,
        0.55,
        0.8,
        0.95,
        1.0,
        1.05,
        1.1,
        1.05,
        1.0,
        1.0,
        1.05,
        1.1,
        1.25,
        1.45,
        1.6,
        1.5,
        1.1,
        0.7,
    ]
)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """Hash int64 values to well-mixed uint64 values (SplitMix64 finaliser), vectorised.

    Examples
    --------
    >>> splitmix64(np.array([1, 2])).dtype
    dtype('uint64')
    """
    z = x.astype(np.uint64) + np.uint64(0x9E3779B97F4A7C15)
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@dataclass
class World:
    """Mutable state of one simulation run (never shared between runs).

    Parameters
    ----------
    n_orders
        Target number of orders of the dataset.
    seed
        The run's seed; every draw comes from ``rng``, seeded once from it.
    config
        The simulation settings.
    """

    n_orders: int
    seed: int
    config: SimulationConfig
    rng: np.random.Generator = field(init=False)
    start: int = field(init=False)
    end: int = field(init=False)
    parts: dict[str, list[pl.DataFrame]] = field(init=False)
    pools: dict[str, np.ndarray] = field(init=False)
    _next: dict[str, int] = field(init=False)

    def __post_init__(self) -> None:
        self.rng = np.random.default_rng(np.random.SeedSequence([self.seed, 0x6B17]))
        start = datetime.fromisoformat(self.config.organic.start).replace(tzinfo=UTC)
        self.start = int(start.timestamp()) * 1_000_000
        self.end = self.start + self.config.organic.days * DAY
        self.parts = {name: [] for name in INTERNAL}
        self.pools = {}
        self._next = {name: 0 for name in [*ID_COLUMN, "serial"]}

    # -- ids -----------------------------------------------------------------
    def ids(self, table: str, n: int) -> np.ndarray:
        """Allocate ``n`` new dense internal ids for ``table`` (or ``"serial"``)."""
        first = self._next[table]
        self._next[table] = first + int(n)
        return np.arange(first, first + int(n), dtype=np.int64)

    def count(self, table: str) -> int:
        """Return the number of internal ids allocated so far for ``table``."""
        return self._next[table]

    # -- parts ---------------------------------------------------------------
    def add(self, table: str, frame: pl.DataFrame | dict) -> None:
        """Append rows to an internal table, cast to its internal schema."""
        schema = INTERNAL[table]
        if isinstance(frame, dict):
            frame = pl.DataFrame(frame)
        missing = [c for c in schema if c not in frame.columns]
        frame = frame.with_columns(pl.lit(None).alias(c) for c in missing)
        frame = frame.select(pl.col(c).cast(t) for c, t in schema.items())
        if frame.height:
            self.parts[table].append(frame)

    def label(
        self, entity_kind: str, iids: np.ndarray, scenario: str, group: np.ndarray | str | None
    ) -> None:
        """Record ground truth: internal ids of one entity kind belong to a scenario/group."""
        iids = np.asarray(iids, dtype=np.int64)
        if isinstance(group, np.ndarray):
            g = pl.Series(group).cast(pl.String)
        else:
            g = pl.repeat(group, len(iids), dtype=pl.String, eager=True)
        self.add(
            "labels",
            pl.DataFrame(
                {
                    "entity_kind": pl.repeat(entity_kind, len(iids), dtype=pl.String, eager=True),
                    "iid": iids,
                    "scenario": pl.repeat(scenario, len(iids), dtype=pl.String, eager=True),
                    "group_id": g,
                }
            ),
        )

    def table(self, table: str, columns: list[str] | None = None) -> pl.DataFrame:
        """Return all rows appended so far to an internal table, in append order."""
        cols = list(INTERNAL[table]) if columns is None else columns
        if not self.parts[table]:
            return pl.DataFrame(schema={c: INTERNAL[table][c] for c in cols})
        return pl.concat([p.select(cols) for p in self.parts[table]], how="vertical")

    def take(self, table: str) -> pl.DataFrame:
        """Return an internal table and release its parts (frees memory while assembling)."""
        out = self.table(table)
        self.parts[table] = []
        return out

    # -- clock ---------------------------------------------------------------
    def uniform_times(self, n: int, lo: np.ndarray | int, hi: np.ndarray | int) -> np.ndarray:
        """Uniform times in ``[lo, hi)`` (microseconds), vectorised."""
        lo = np.asarray(lo, dtype=np.int64)
        hi = np.asarray(hi, dtype=np.int64)
        span = np.maximum(hi - lo, 1)
        return lo + (self.rng.random(n) * span).astype(np.int64)

    def days(self, x: np.ndarray | float) -> np.ndarray:
        """Convert days (float) to microseconds (int64)."""
        return (np.asarray(x, dtype=np.float64) * DAY).astype(np.int64)

    def diurnal(self, t: np.ndarray) -> np.ndarray:
        """Move times to a random hour of the same day, drawn from the daily cycle."""
        t = np.asarray(t, dtype=np.int64)
        n = len(t)
        hour = self.rng.choice(24, size=n, p=_HOURS / _HOURS.sum())
        within = (self.rng.random(n) * HOUR).astype(np.int64)
        return t - t % DAY + hour.astype(np.int64) * HOUR + within

    def order_times(self, n: int, lo: np.ndarray | int | None = None) -> np.ndarray:
        """Order times with a weekly cycle, a diurnal cycle and mild growth.

        ``lo`` (optional, per row) is a lower bound such as the buyer's or seller's
        registration; rows whose draw falls before it are redrawn uniformly after it.
        """
        org = self.config.organic
        day_idx = np.arange(org.days)
        weekday = (np.datetime64("1970-01-01") + (self.start // DAY + day_idx)).astype(
            "datetime64[D]"
        )
        dow = (weekday.astype(np.int64) + 3) % 7  # 0 = Monday
        w = np.where(dow >= 5, org.weekend_factor, 1.0) * (1.0 + 0.4 * day_idx / org.days)
        days = self.rng.choice(org.days, size=n, p=w / w.sum())
        hours = _HOURS
        hour = self.rng.choice(24, size=n, p=hours / hours.sum())
        t = (
            self.start
            + days.astype(np.int64) * DAY
            + hour.astype(np.int64) * HOUR
            + (self.rng.random(n) * HOUR).astype(np.int64)
        )
        if lo is not None:
            lo = np.broadcast_to(np.asarray(lo, dtype=np.int64), (n,))
            bad = t < lo
            if bad.any():
                t[bad] = self.uniform_times(int(bad.sum()), lo[bad], self.end)
        return t
