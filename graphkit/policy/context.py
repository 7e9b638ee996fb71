"""The :class:`ScanContext`: what a policy check sees.

It gives checks the dataset, ``as_of``, the seed, the configuration and the
detection results, each computed once and only when a check asks for it
(``ctx.groups`` runs :func:`graphkit.detect.detect_groups`, ``ctx.ratings``
runs :func:`graphkit.detect.ratings.rating_signals`). Collected tables are
cached too, so that several checks reading ``orders`` collect it once.

Only *ring-sized* detected groups count as collusion evidence for the checks
and the rating signals (:attr:`ScanContext.ring_members`): a group spanning
more than ``max_ring_sellers`` stores is a market community (a dense block of
a popular category, say), not a ring, and membership in it says nothing about
a rating or a purchase. Such groups stay in the scan's ``groups`` output.

Examples
--------
>>> from datetime import UTC, datetime
>>> import polars as pl
>>> from graphkit.dataset import Dataset
>>> from graphkit.policy.context import ScanContext
>>> orders = pl.LazyFrame({"order_id": ["o1"]})
>>> ds = Dataset({"orders": orders}, as_of=datetime(2026, 1, 1, tzinfo=UTC))
>>> ctx = ScanContext(ds)
>>> ctx.frame("orders").height
1
"""

from __future__ import annotations

import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    from graphkit.config import ScanConfig
    from graphkit.dataset import Dataset

__all__ = ["MAX_RING_SELLERS", "ScanContext"]

#: A ring lifts one store or a handful (a shill ring, a feedback-trading circle of a few
#: stores); a detected group spanning more stores than this is a community, not a ring.
MAX_RING_SELLERS = 10


@dataclass
class ScanContext:
    """Dataset, run parameters and lazily computed detection results for the checks.

    Parameters
    ----------
    ds
        The validated dataset.
    config
        The scan configuration (defaults when ``None``).
    seed
        The one seed of the run (detection randomness).
    max_ring_sellers
        Detected groups with more sellers than this are not used as collusion evidence
        (default: the config's ``[scan] max_ring_sellers``, else
        :data:`MAX_RING_SELLERS`).
    """

    ds: Dataset
    config: ScanConfig | None = None
    seed: int = 0
    max_ring_sellers: int | None = None
    timings: dict[str, float] = field(default_factory=dict)
    _frames: dict[str, pl.DataFrame] = field(default_factory=dict, repr=False)
    _shared: dict[str, Any] = field(default_factory=dict, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)
    _key_locks: dict[str, threading.Lock] = field(default_factory=dict, repr=False, compare=False)
    _ratings_done: bool = field(default=False, repr=False, compare=False)

    @property
    def as_of(self) -> datetime:
        """The moment the analysis is made for (UTC)."""
        return self.ds.as_of

    def frame(self, name: str, columns: Sequence[str] | None = None) -> pl.DataFrame:
        """Return table ``name`` collected (once per scan), or only its ``columns``.

        With ``columns``, only those columns are read (a check that needs four
        columns of ``feedback`` never collects its text); the projection is
        cached too, and taken from the whole table when that is already
        collected. Safe to call from several threads: each table (projection) is
        collected once, by the first caller, and the others wait for it.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> from graphkit.dataset import Dataset
        >>> orders = pl.LazyFrame({"order_id": ["o1"], "amount": [2.0]})
        >>> ctx = ScanContext(Dataset({"orders": orders}, as_of=datetime(2026, 1, 1, tzinfo=UTC)))
        >>> ctx.frame("orders", columns=["amount"]).columns
        ['amount']
        """
        if columns is None:
            return self._once(self._frames, name, lambda: self.ds.table(name).collect())
        cols = list(dict.fromkeys(columns))
        whole = self._frames.get(name)
        if whole is not None:
            return whole.select(cols)
        key = name + "\x00" + "\x00".join(cols)
        return self._once(self._frames, key, lambda: self.ds.table(name).select(cols).collect())

    def lazy(self, name: str) -> pl.LazyFrame:
        """Return table ``name`` as a LazyFrame, without collecting (or caching) it.

        The whole table collected by :meth:`frame` when a check did so already, else
        the dataset's own query: a plan built on it reads only the columns (and, with
        pushed-down filters, the row groups) it uses, and holds nothing once collected.
        For checks that read a large table once: at 10M orders a collected ``orders``
        held for the rest of the scan costs ~0.7 GiB.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> from graphkit.dataset import Dataset
        >>> orders = pl.LazyFrame({"order_id": ["o1"], "amount": [2.0]})
        >>> ctx = ScanContext(Dataset({"orders": orders}, as_of=datetime(2026, 1, 1, tzinfo=UTC)))
        >>> ctx.lazy("orders").select("amount").collect().height
        1
        """
        whole = self._frames.get(name)
        return whole.lazy() if whole is not None else self.ds.table(name)

    def shared(self, key: str, compute: Any) -> Any:
        """Return the intermediate ``key``, computed by ``compute()`` once per scan.

        For results several checks need (the refusal messages of both retaliation and
        false-claims checks, say); ``key`` must name everything the result depends on.
        Thread-safe like :meth:`frame`: ``compute`` runs once, by the first caller.

        Examples
        --------
        >>> from datetime import UTC, datetime
        >>> from graphkit.dataset import Dataset
        >>> ctx = ScanContext(Dataset({}, as_of=datetime(2026, 1, 1, tzinfo=UTC)))
        >>> ctx.shared("answer", lambda: 42), ctx.shared("answer", lambda: 0)
        (42, 42)
        """
        return self._once(self._shared, key, compute)

    def _once(self, cache: dict[str, Any], key: str, compute: Any) -> Any:
        """Return ``cache[key]``, computing it once even when threads ask at the same time."""
        if key in cache:
            return cache[key]
        with self._lock:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:  # a second caller of the same key waits; other keys run on
            if key not in cache:
                cache[key] = compute()
        return cache[key]

    def params(self, rule_id: str) -> dict[str, Any]:
        """Return the thresholds of ``rule_id`` (defaults with the config's overrides)."""
        from graphkit.config import ScanConfig

        return (self.config or ScanConfig()).params(rule_id)

    def _timed(self, name: str, fn: Any) -> Any:
        t0 = time.perf_counter()
        out = fn()
        with self._lock:
            self.timings[name] = round(time.perf_counter() - t0, 4)
        return out

    @property
    def market_graph(self) -> Any:
        """The buyer–seller graph (``MarketGraph``), built once for detection and the checks.

        Built by the first caller (another thread asking meanwhile waits for it) and held
        until :meth:`release_market_graph` (it is large: an edge row per buyer–seller pair
        and a coded row per order).
        """
        from graphkit.graph.build import build_market_graph

        return self._once(self._shared, "market_graph", lambda: build_market_graph(self.ds))

    @property
    def buyer_feedback_rows(self) -> pl.DataFrame | None:
        """``MarketGraph.buyer_feedback`` of :attr:`market_graph`: the rating base's join.

        Kept (two integer columns, a row per buyer rating) when the graph is let go, until
        the rating signals are done.
        """
        return self._once(
            self._shared, "buyer_feedback_rows", lambda: self.market_graph.buyer_feedback
        )

    def release_market_graph(self) -> None:
        """Let the market graph go (a later :attr:`market_graph` builds it again).

        Examples
        --------
        >>> ctx = ScanContext(ds)  # doctest: +SKIP
        >>> _ = ctx.market_graph; ctx.release_market_graph()  # doctest: +SKIP
        """
        self._shared.pop("market_graph", None)

    @cached_property
    def groups(self) -> Any:
        """Group detection (``GroupDetection``): rings, members, identity links, account signals.

        Runs on :attr:`market_graph`. Raises ``ImportError`` when group detection is not
        installed; the scan then reports the checks that need it as not evaluated.
        """
        from graphkit.detect import detect_groups  # type: ignore[attr-defined]

        params = dict(self.config.detect) if self.config is not None else None
        return self._timed(
            "detect_groups",
            lambda: detect_groups(
                self.ds, seed=self.seed, params=params or None, market_graph=self.market_graph
            ),
        )

    def has_groups(self) -> bool:
        """Whether group detection is available (computing it if not done yet)."""
        try:
            _ = self.groups
        except ImportError:
            return False
        return True

    def _rating_params(self) -> Any:
        """Return the ``RatingParams`` of the config (``None``: defaults)."""
        from graphkit.detect.ratings import RatingParams
        from graphkit.errors import ConfigError

        if self.config is not None and self.config.ratings:
            try:
                return RatingParams(**dict(self.config.ratings))
            except TypeError as err:
                raise ConfigError(f"invalid [ratings] setting: {err}") from None
        return None

    def rating_base(self, *, prefetch: bool = False) -> Any:
        """Return the group-independent part of the rating signals (``RatingBase``), once.

        A scan computes it in its second thread while group detection runs
        (``prefetch=True``: nothing is computed, ``None`` returned, once :attr:`ratings`
        is done); :attr:`ratings` uses it (or computes it, when nobody did yet) and then
        lets it go (it holds every buyer feedback row).
        """
        from graphkit.detect.ratings import rating_base

        params = self._rating_params()
        with self._lock:
            lock = self._key_locks.setdefault("rating_base", threading.Lock())
        with lock:
            if prefetch and self._ratings_done:
                return None
            if "rating_base" not in self._shared:
                self._shared["rating_base"] = self._timed(
                    "rating_base",
                    lambda: rating_base(self.ds, params, matches=self.buyer_feedback_rows),
                )
            return self._shared["rating_base"]

    def group_scores(self) -> pl.DataFrame:
        """``group_id, score[, signals]`` of the detected groups (what ring_group_members reads).

        Examples
        --------
        >>> ScanContext(ds).group_scores().columns  # doctest: +SKIP
        ['group_id', 'score', 'signals']
        """
        table = self.group_table
        return table.select(c for c in ("group_id", "score", "signals") if c in table.columns)

    @cached_property
    def ratings(self) -> Any:
        """Rating-pattern signals (``RatingSignals``), given the detected groups and links."""
        from graphkit.detect.ratings import rating_signals

        params = self._rating_params()
        base = self.rating_base()
        grouped = self.has_groups()
        members = self.ring_members if grouped else None
        # the groups' scores: only groups scoring as rings count (RatingParams.group_min_score)
        # (and their signals: a group around young stores counts from a lower score)
        groups = self.group_scores() if grouped else None
        out = self._timed(
            "rating_signals",
            lambda: rating_signals(
                self.ds,
                group_members=members,
                identity_links=self.identity_links,
                params=params,
                groups=groups,
                base=base,
            ),
        )
        with self._key_locks["rating_base"]:  # done with the base: let it go
            self._ratings_done = True
            self._shared.pop("rating_base", None)
            self._shared.pop("buyer_feedback_rows", None)
        return out

    @cached_property
    def identity(self) -> Any:
        """The identity graph (``IdentityGraph``: links between accounts, hubs capped).

        Taken from group detection when available, else built directly.
        """
        if self.has_groups():
            return self.groups.identity
        from graphkit.graph.build import build_identity_graph

        return self._timed("identity_graph", lambda: build_identity_graph(self.ds))

    @cached_property
    def identity_links(self) -> pl.DataFrame:
        """Identity links between accounts (account_a, account_b, kinds, n_shared, weight)."""
        return _collect(self.identity.links)

    @cached_property
    def group_members(self) -> pl.DataFrame:
        """Members of detected groups (group_id, account_id, role)."""
        return _collect(self.groups.members)

    @cached_property
    def ring_members(self) -> pl.DataFrame:
        """Members of the detected groups that are ring-sized (collusion evidence).

        Groups with more than ``max_ring_sellers`` sellers are left out (see the module
        docstring); every other group's members are kept as in :attr:`group_members`.
        """
        limit = self.max_ring_sellers
        if limit is None:
            cfg = getattr(self.config, "max_ring_sellers", None)
            limit = MAX_RING_SELLERS if cfg is None else int(cfg)
        table = self.group_table
        if "seller_ids" not in table.columns:
            return self.group_members
        wide = table.filter(pl.col("seller_ids").list.len() > limit).select("group_id")
        return self.group_members.join(wide, on="group_id", how="anti", maintain_order="left")

    @cached_property
    def group_table(self) -> pl.DataFrame:
        """Detected groups (``GROUPS_SCHEMA``)."""
        return _collect(self.groups.groups)


def _collect(frame: pl.DataFrame | pl.LazyFrame) -> pl.DataFrame:
    return frame.collect() if isinstance(frame, pl.LazyFrame) else frame
