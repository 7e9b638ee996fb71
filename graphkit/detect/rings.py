"""Group detection and scoring: the combined entry point :func:`detect_groups`.

Candidates come from four detectors, each a separate stage:

* ``shill_ring``: Leiden communities of the suspicion-weighted buyer–seller
  graph with at most ``ring_max_sellers`` sellers, kept to the buyers who
  concentrate their orders on those sellers;
* ``dense_block``: FRAUDAR dense blocks (suspicion-weighted);
* ``lockstep``: CopyCatch-style groups of buyers buying from the same sellers
  in the same short windows;
* ``linked_accounts``: clusters of the identity graph.

Every buyer–seller group is scored from named signals, each with its value
and its contribution (``weight * strength``, strength in 0..1); the score is
the sum of contributions divided by the total weight of the signals that
could be measured (a signal needing a missing table is reported with a null
value and contributes nothing). Group ids are :func:`graphkit.findings.group_ids`
of the kind and the sorted members, so the same input gives the same ids.

Examples
--------
>>> from graphkit.detect import detect_groups
>>> det = detect_groups(ds, seed=0)  # doctest: +SKIP
>>> det.groups.select("group_id", "kind", "score").head(3)  # doctest: +SKIP
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
import polars as pl

from graphkit.detect.sorted_runs import run_starts, search_sorted
from graphkit.errors import ConfigError
from graphkit.findings import GROUPS_SCHEMA, SIGNAL, group_ids

if TYPE_CHECKING:
    from graphkit.dataset import Dataset
    from graphkit.detect.communities import LeidenJob
    from graphkit.graph.build import IdentityGraph, MarketGraph

__all__ = [
    "ACCOUNT_SIGNALS_SCHEMA",
    "GROUP_KINDS",
    "MEMBERS_SCHEMA",
    "DetectParams",
    "GroupDetection",
    "detect_groups",
    "edge_suspicion",
    "ring_candidate_edges",
    "score_groups",
]

#: The group kinds :func:`detect_groups` reports.
GROUP_KINDS = ("shill_ring", "dense_block", "lockstep", "linked_accounts")

MEMBERS_SCHEMA: dict[str, pl.DataType] = {
    "group_id": pl.String(),
    "account_id": pl.String(),
    "role": pl.String(),
}

ACCOUNT_SIGNALS_SCHEMA: dict[str, pl.DataType] = {
    "account_id": pl.String(),
    "n_groups": pl.Int64(),
    "max_group_score": pl.Float64(),
    "group_id": pl.String(),
    "group_kind": pl.String(),
    "in_shill_ring": pl.Boolean(),
    "in_dense_block": pl.Boolean(),
    "in_lockstep": pl.Boolean(),
    "linked_cluster_id": pl.String(),
    "n_identity_links": pl.Int64(),
}


@dataclass(frozen=True)
class DetectParams:
    """Every threshold of :func:`detect_groups`, with its default and the reason for it.

    Parameters
    ----------
    max_accounts_per_value
        Identity hub cap (20: above any household or small office, below a NAT).
    identity_min_weight
        Identity link weight that counts as "linked" (0.5: one personal
        identifier shared by 2-3 accounts, or an address shared by 2).
    new_account_days
        A buyer younger than this at its first order with a seller is "new"
        (30 days: sock puppets are registered just before use).
    small_amount_ratio
        An order below this share of its seller's mean order amount is
        "small" (0.5: shill purchases buy the cheapest item to limit the cost).
    suspicion_new, suspicion_top, suspicion_small, suspicion_linked
        Extra edge weight for a new buyer (1.0), per unit of top-rating share
        (1.0), for small orders (0.5) and for an identity link between the buyer
        and the seller or another buyer of the seller (2.0): Leiden and FRAUDAR
        then see suspicious edges as heavier.
    leiden_resolution, leiden_resolution_per_100k_edges
        Modularity resolution: ``max(leiden_resolution, leiden_resolution_per_100k_edges
        * n_edges / 100_000)``. Modularity's resolution limit grows with the graph:
        at a fixed resolution a ring of 5-10 buyers merges with the stores around it
        once the market is large (at 1.0 no simulated ring was isolated at 100k
        orders; at 5.0 all at 100k, none at 1M). Scaling with the edge count keeps the
        null-model penalty per pair constant; 20 per 100k edges isolated 10 of 10
        simulated rings at 1M orders on the whole graph, and 5.0 is the floor for
        small graphs. 30 since Leiden runs on the candidate subgraph: the accounts
        outside it cannot pull a store away from a ring there, so two neighbouring
        feedback-trading circles merged more often at 20 (1M orders: 21 of the 25
        groups scoring >= 0.5 on the whole graph found again at 20, 23 at 30; the
        10 planted shill rings at both).
    candidate_subgraph
        Run Leiden and FRAUDAR on the suspicious candidate subgraph only (True;
        see :func:`ring_candidate_edges`); False runs them on the whole graph.
    leiden_iterations
        Leiden iterations (2: on the 1M-order simulated market, 2 iterations gave
        the same number of communities as running until stable, in 2.4 s of CPU
        instead of 28 s; -1 runs until stable).
    ring_max_sellers
        A community with more sellers is a market segment, not a ring (3).
    ring_min_buyers
        Smallest ring (3: a pair can be friends); a community seller belongs to
        the ring only when at least this many concentrated buyers buy from it.
    ring_max_buyers
        Largest ring candidate (200: rings are tens of accounts).
    ring_min_orders
        Orders a buyer needs with the community's sellers to be a ring member
        (2: shills buy repeatedly; one order is a customer).
    min_concentration
        A community buyer is a ring member when at least this share of its
        orders go to the community's sellers (0.5: honest buyers spread their
        orders over many stores).
    young_store_days
        A community left without a ring by the test above is tested again for its
        sellers that made their first sale within this many days of registering, with
        each buyer's concentration counted over its orders placed between its first and
        last order with the community's sellers (its ring window) instead of over its
        whole history (90: rings are built to give a store in its first quarter a
        reputation, and a camouflaged ring account's honest purchases before and after
        the campaign dilute its whole-history share, e.g. 0.18-0.64 of all orders but
        0.67-1.0 within the window for a ring at simulated 100k seed 14). Young stores
        only: the windowed test on every store added 49 groups around organic stores over
        the 32 simulated 20k/100k runs of seeds 0-15 (scores up to 0.45; one organic
        account named), on young stores 1 (score 0.35) besides 31 around planted ones.
        Needs the graph's coded orders and the sellers' registration times; ``None``
        turns the second test off.
    dense_n_blocks
        FRAUDAR blocks peeled (5).
    dense_eps
        FRAUDAR batch tolerance (0.05; see :func:`graphkit.detect.dense.fraudar_peel`).
    dense_max_buyers
        Dense blocks with more buyers are dropped (500: a block that big is a
        popular market core, not a group acting together).
    lockstep_window_days
        Lockstep window (3 days: one coordinated campaign).
    lockstep_min_shared
        Shared (seller, window) buckets to put a pair in lockstep (2).
    lockstep_max_bucket
        Busiest bucket considered (50 buyers; see :func:`graphkit.detect.lockstep.lockstep_pairs`).
    linked_max_size
        Identity clusters larger than this are not reported as groups (50:
        bigger clusters chain through weak values and name no one in particular).
    min_group_buyers
        Smallest buyer–seller group reported, whatever the detector (3).
    min_score
        Groups scoring below this are not reported (0.3: about a third of the
        weighted evidence; lower it to see more candidates).
    signal_weights
        Weight of each named signal in the score (see :data:`SIGNAL_WEIGHTS`).
    """

    max_accounts_per_value: int = 20
    identity_min_weight: float = 0.5
    new_account_days: float = 30.0
    small_amount_ratio: float = 0.5
    suspicion_new: float = 1.0
    suspicion_top: float = 1.0
    suspicion_small: float = 0.5
    suspicion_linked: float = 2.0
    leiden_resolution: float = 5.0
    leiden_resolution_per_100k_edges: float = 30.0
    leiden_iterations: int = 2
    candidate_subgraph: bool = True
    ring_max_sellers: int = 3
    ring_min_buyers: int = 3
    ring_max_buyers: int = 200
    ring_min_orders: int = 2
    min_concentration: float = 0.5
    young_store_days: float | None = 90.0
    dense_n_blocks: int = 5
    dense_eps: float = 0.05
    dense_max_buyers: int = 500
    lockstep_window_days: float = 3.0
    lockstep_min_shared: int = 2
    lockstep_max_bucket: int = 50
    linked_max_size: int = 50
    min_group_buyers: int = 3
    min_score: float = 0.3
    signal_weights: Mapping[str, float] = field(default_factory=lambda: dict(SIGNAL_WEIGHTS))

    @classmethod
    def from_mapping(cls, values: Mapping[str, Any] | None) -> DetectParams:
        """Build params from a mapping (e.g. a ``[detect]`` TOML table); unknown keys raise.

        Examples
        --------
        >>> DetectParams.from_mapping({"min_score": 0.5}).min_score
        0.5
        """
        values = dict(values or {})
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(values) - names)
        if unknown:
            raise ConfigError(
                f"unknown detect parameter(s) {', '.join(unknown)}; "
                f"valid: {', '.join(sorted(names))}"
            )
        return cls(**values)


#: Default weights of the group signals (they sum to 1). Strength of each in 0..1:
#: ``density_ratio``: log10(observed / expected edges) / 3 (configuration model);
#: ``account_age``: 1 - median buyer age at first group order / (3 * new_account_days);
#: ``identity_sharing``: share of buyers identity-linked to another member;
#: ``amount_size``: 1 - group mean order amount / sellers' mean order amount;
#: ``rating_extremity``: (top share - population top share) / (1 - population share), the
#: top share shrunk toward the population's with 5 pseudo-ratings (value: the raw share);
#: ``time_concentration``: 1 - group's active span / sellers' active span;
#: ``seller_rating_share``: share of the sellers' buyer feedback written by the group;
#: ``buyer_concentration``: mean share of a member buyer's orders going to the group;
#: ``repeat_purchases``: (orders per group edge - 1) / 4;
#: ``young_stores``: 1 when every seller of the group made its first sale at most
#: ``young_store_days`` after registering (value: the most days any of them took; null
#: without registration dates). Weight 0: it does not move the score; the rating rules read
#: it (a ring around a new store counts from a lower score,
#: :func:`graphkit.detect.rating_trading.ring_group_members`), and an operator may weight it.
SIGNAL_WEIGHTS: Mapping[str, float] = {
    "density_ratio": 0.05,
    "account_age": 0.15,
    "identity_sharing": 0.15,
    "amount_size": 0.1,
    "rating_extremity": 0.1,
    "time_concentration": 0.1,
    "seller_rating_share": 0.1,
    "buyer_concentration": 0.15,
    "repeat_purchases": 0.1,
    "young_stores": 0.0,
}


@dataclass(frozen=True)
class GroupDetection:
    """The result of :func:`detect_groups`.

    Parameters
    ----------
    groups
        ``GROUPS_SCHEMA`` rows, sorted by score (descending) then ``group_id``.
    members
        ``group_id``, ``account_id``, ``role`` (``buyer``/``seller``).
    identity
        The identity graph (links and hubs).
    account_signals
        One row per account in a reported group or with a strong identity
        link: see :data:`ACCOUNT_SIGNALS_SCHEMA`.
    params
        The parameters used.
    seed
        The seed used.
    """

    groups: pl.DataFrame
    members: pl.DataFrame
    identity: IdentityGraph
    account_signals: pl.DataFrame
    params: DetectParams
    seed: int

    def pairs(self) -> pl.DataFrame:
        """Return buyer–seller pairs sharing a group.

        Columns ``group_id``, ``kind``, ``score``, ``buyer_id``, ``seller_id``.

        Answers "is buyer B in a suspicious group with seller S" with one join.

        Examples
        --------
        >>> det.pairs().filter(pl.col("buyer_id") == "b1")  # doctest: +SKIP
        """
        b = self.members.filter(pl.col("role") == "buyer").select(
            "group_id", pl.col("account_id").alias("buyer_id")
        )
        s = self.members.filter(pl.col("role") == "seller").select(
            "group_id", pl.col("account_id").alias("seller_id")
        )
        return (
            b.join(s, on="group_id")
            .join(self.groups.select("group_id", "kind", "score"), on="group_id")
            .select("group_id", "kind", "score", "buyer_id", "seller_id")
            .sort("buyer_id", "seller_id", "group_id")
        )


# --------------------------------------------------------------------------- suspicion
def _sorted_contains(sorted_keys: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Whether each query is in ``sorted_keys`` (ascending): a binary search, no hashing."""
    if not len(sorted_keys):
        return np.zeros(len(queries), dtype=bool)
    pos = search_sorted(sorted_keys, queries).clip(max=len(sorted_keys) - 1)
    return sorted_keys[pos] == queries


def _linked_mask(mg: MarketGraph, links: pl.DataFrame) -> np.ndarray:
    """Flag the edges whose buyer is identity-linked to the seller or to a co-buyer.

    Integer work only: links are mapped to vids once, edges and links are keyed
    ``vid_a * n + vid_b``.
    """
    n_e = mg.edges.height
    if links.is_empty() or n_e == 0:
        return np.zeros(n_e, dtype=bool)
    n = mg.vertices.height
    # both ends of every link as vertex ids (links to accounts without a vertex dropped),
    # in both directions
    ends_v = pl.DataFrame(
        {"a": mg.vid_of(links["account_a"]), "b": mg.vid_of(links["account_b"])}
    ).drop_nulls()
    av, bv = ends_v["a"].to_numpy(), ends_v["b"].to_numpy()
    both = pl.DataFrame({"xv": np.concatenate([av, bv]), "yv": np.concatenate([bv, av])})
    b = mg.edges["buyer_vid"].to_numpy()
    s = mg.edges["seller_vid"].to_numpy()
    edge_key = b * n + s  # ascending: edges are sorted by (buyer_vid, seller_vid)
    xv, yv = both["xv"].to_numpy(), both["yv"].to_numpy()
    # links (x, y) that are edges x -> y: the (fewer) link keys searched in the edge keys
    to_seller = np.zeros(n_e, dtype=bool)
    link_key = xv * n + yv
    pos = search_sorted(edge_key, link_key).clip(max=n_e - 1)
    to_seller[pos[edge_key[pos] == link_key]] = True
    # co-buyer: an edge (b, s) and a link (b, y) where (y, s) is an edge too; only the
    # edges of linked buyers can be one (10M orders: 0.8M of 9.3M edges go to the join)
    linked_v = np.zeros(n, dtype=bool)
    linked_v[xv] = True
    i = np.flatnonzero(linked_v[b])
    ends = pl.DataFrame({"i": i, "b": b[i], "s": s[i]}).join(
        pl.DataFrame({"b": xv, "y": yv}), on="b"
    )
    hit = _sorted_contains(edge_key, ends["y"].to_numpy() * n + ends["s"].to_numpy())
    co = np.zeros(n_e, dtype=bool)
    co[ends["i"].to_numpy()[hit]] = True
    return to_seller | co


def edge_suspicion(
    mg: MarketGraph, links: pl.DataFrame, *, params: DetectParams | None = None
) -> pl.DataFrame:
    """Per-edge suspicion features and weight, aligned with ``mg.edges``.

    ``weight = n_orders * (1 + new * suspicion_new + top_share * suspicion_top
    + small * suspicion_small + linked * suspicion_linked)``.

    Parameters
    ----------
    mg
        The buyer–seller graph.
    links
        Strong identity links (``account_a``, ``account_b``).
    params
        Thresholds and weights (defaults when ``None``).

    Returns
    -------
    pl.DataFrame
        ``new``, ``top_share``, ``small``, ``linked``, ``suspicion`` (the
        multiplier) and ``weight``, one row per edge in edge order.

    Examples
    --------
    >>> edge_suspicion(mg, idg.links)["weight"].to_list()  # doctest: +SKIP
    """
    p = params or DetectParams()
    n = mg.vertices.height
    b = mg.edges["buyer_vid"].to_numpy()
    s = mg.edges["seller_vid"].to_numpy()
    # per seller, by vid (bincount adds in edge order: the same bits every run)
    seller_amount = np.bincount(s, mg.edges["amount"].to_numpy(), n)
    seller_orders = np.bincount(s, mg.edges["n_orders"].to_numpy(), n)
    with np.errstate(divide="ignore", invalid="ignore"):
        seller_mean = seller_amount / seller_orders
    out = mg.edges.select(
        "n_orders",
        "amount",
        "first_at",
        "n_top_ratings",
        mg.vertices["created_at"].gather(b).alias("created_at"),
        pl.Series("seller_mean", seller_mean[s]),
        pl.Series("linked", _linked_mask(mg, links)),
    )
    age_days = (pl.col("first_at") - pl.col("created_at")).dt.total_seconds() / 86400.0
    out = out.select(
        (age_days < p.new_account_days).fill_null(False).alias("new"),
        (pl.col("n_top_ratings") / pl.col("n_orders")).alias("top_share"),
        (pl.col("amount") / pl.col("n_orders") < p.small_amount_ratio * pl.col("seller_mean"))
        .fill_null(False)
        .alias("small"),
        "linked",
        "n_orders",
    )
    mult = (
        1.0
        + pl.col("new").cast(pl.Float64) * p.suspicion_new
        + pl.col("top_share") * p.suspicion_top
        + pl.col("small").cast(pl.Float64) * p.suspicion_small
        + pl.col("linked").cast(pl.Float64) * p.suspicion_linked
    )
    return (
        out.with_columns(mult.alias("suspicion"))
        .with_columns((pl.col("suspicion") * pl.col("n_orders")).alias("weight"))
        .drop("n_orders")
    )


def ring_candidate_edges(
    mg: MarketGraph,
    susp: pl.DataFrame,
    *,
    params: DetectParams | None = None,
    min_concentration: float | None = None,
    induced: bool = True,
) -> np.ndarray:
    """Edges of the part of the market that can hold a ring (boolean mask on ``mg.edges``).

    An edge is *evidence* when its suspicion exceeds the plain order count
    (:func:`edge_suspicion` > 1: a new buyer, small orders, a top rating or an
    identity link). The evidence edges are then pruned until stable with the
    necessary conditions of a ring member (see :func:`detect_groups`): a buyer
    keeps its edges when its ``ring_max_sellers`` heaviest evidence edges carry
    at least ``ring_min_orders`` orders and at least ``min_concentration`` of all
    its orders (a ring member concentrates that much on at most that many
    sellers); a seller keeps its edges when at least ``ring_min_buyers`` such
    buyers remain. Organic-only parts of the market, where no buyer could meet
    the ring test, are left out, so Leiden and FRAUDAR need not see them. The
    result is the subgraph *induced* by the surviving accounts (every edge
    between two of them; at 1M simulated orders 23% of the edges, with every
    edge of every planted ring).

    Parameters
    ----------
    mg
        The buyer–seller graph.
    susp
        :func:`edge_suspicion` of ``mg`` (aligned with ``mg.edges``).
    params
        Thresholds (defaults when ``None``).
    min_concentration
        Share of a buyer's orders that must lie on kept edges; default
        ``params.min_concentration``; 0 keeps only the structural pruning.
    induced
        True (default): every edge between two kept accounts, suspicious or
        not (what Leiden needs: a ring's members also buy without a top rating);
        False: the kept evidence edges only (what FRAUDAR peels).

    Returns
    -------
    np.ndarray
        Boolean mask, one value per edge of ``mg.edges``.

    Examples
    --------
    >>> mask = ring_candidate_edges(mg, edge_suspicion(mg, links))  # doctest: +SKIP
    >>> int(mask.sum()), mg.edges.height  # doctest: +SKIP
    (87243, 910783)
    """
    p = params or DetectParams()
    conc = p.min_concentration if min_concentration is None else min_concentration
    n = mg.vertices.height
    b = mg.edges["buyer_vid"].to_numpy()
    s = mg.edges["seller_vid"].to_numpy()
    orders = mg.edges["n_orders"].to_numpy()
    total = np.bincount(b, weights=orders, minlength=n)
    evidence = susp["suspicion"].to_numpy() > 1.0
    # evidence edges by buyer, heaviest first: a buyer's first k rows are its top-k sellers
    idx = np.flatnonzero(evidence)
    idx = idx[np.lexsort((-orders[idx], b[idx]))]
    eb, es, eo = b[idx], s[idx], orders[idx]
    for _ in range(100):  # pruning rounds (a handful), not a loop over edges
        pos = np.arange(len(eb))
        first = run_starts(eb)
        rank = pos - np.maximum.accumulate(np.where(first, pos, 0))
        top = rank < p.ring_max_sellers
        # orders a ring of <= ring_max_sellers sellers could hold for each buyer
        inside = np.bincount(eb[top], weights=eo[top], minlength=n)
        buyer_ok = (inside >= p.ring_min_orders) & (inside >= conc * total)
        keep = buyer_ok[eb]
        seller_ok = np.bincount(es[keep], minlength=n) >= p.ring_min_buyers
        keep &= seller_ok[es]
        if keep.all():
            break
        # the surviving edges only, in the same order: each round works on fewer
        idx, eb, es, eo = idx[keep], eb[keep], es[keep], eo[keep]
    if not induced:
        mask = np.zeros(len(b), dtype=bool)
        mask[idx] = True
        return mask
    # the subgraph induced by the surviving accounts: their ordinary edges among
    # themselves too (a ring's members also buy without leaving a top rating)
    inside_v = np.zeros(n, dtype=bool)
    inside_v[eb] = True
    inside_v[es] = True
    return inside_v[b] & inside_v[s]


# --------------------------------------------------------------------------- candidates
def _start_ring_leiden(
    mg: MarketGraph,
    weights: np.ndarray,
    p: DetectParams,
    seed: int,
    edge_mask: np.ndarray | None = None,
) -> LeidenJob:
    """Start the ring candidates' Leiden (in a child process on large graphs)."""
    from graphkit.detect.communities import start_leiden_membership

    # the whole graph's resolution also on the candidate subgraph: leiden_membership
    # judges every merge there against the whole graph's null model
    resolution = max(
        p.leiden_resolution, p.leiden_resolution_per_100k_edges * mg.edges.height / 100_000
    )
    return start_leiden_membership(
        mg,
        weights=weights,
        resolution=resolution,
        n_iterations=p.leiden_iterations,
        seed=seed,
        edge_mask=edge_mask,
    )


def _ring_candidates(
    mg: MarketGraph,
    weights: np.ndarray,
    p: DetectParams,
    seed: int,
    edge_mask: np.ndarray | None = None,
) -> pl.DataFrame:
    with _start_ring_leiden(mg, weights, p, seed, edge_mask) as job:
        memb = job.result()
    return _ring_members(mg, memb, p)


def _ring_test(
    b: np.ndarray,
    s: np.ndarray,
    inside: np.ndarray,
    concentrated: np.ndarray,
    memb: np.ndarray,
    n_comm: int,
    p: DetectParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Ring buyers and kept sellers (masks over the vertices) of the ``inside`` edges.

    A seller is kept when at least ``ring_min_buyers`` ``concentrated`` buyers reach it
    through ``inside`` edges; a community is a ring when its buyers of kept sellers
    number ``ring_min_buyers`` to ``ring_max_buyers``. The kept sellers and the buyers
    returned are those of ring communities.
    """
    n = len(concentrated)
    pairs = inside & concentrated[b]
    n_conc = np.bincount(s[pairs], minlength=n)
    kept = (n_conc > 0) & (n_conc >= p.ring_min_buyers)
    buyer = np.zeros(n, dtype=bool)
    buyer[b[pairs & kept[s]]] = True
    size = np.bincount(memb[buyer], minlength=n_comm)
    ok = (size > 0) & (size >= p.ring_min_buyers) & (size <= p.ring_max_buyers)
    return buyer & ok[memb], kept & ok[memb]


def _orders_in_windows(
    mg: MarketGraph, vids: np.ndarray, lo: np.ndarray, hi: np.ndarray
) -> np.ndarray:
    """Count the orders of buyer ``vids[i]`` placed in ``[lo[i], hi[i]]`` (epoch microseconds).

    One sort of those buyers' orders together with the window ends (a start sorts before
    an order at the same time, an end after it); the count is the difference of the
    running order count at the two ends. ``vids`` must be distinct.
    """
    if mg.orders is None or not len(vids):
        return np.zeros(len(vids), dtype=np.int64)
    want = np.zeros(mg.vertices.height, dtype=bool)
    want[vids] = True
    ob = mg.orders["buyer_vid"].to_numpy()
    sel = np.flatnonzero(want[ob])
    ot = mg.orders["created_at"].dt.epoch("us").to_numpy()[sel]
    k, m = len(vids), len(sel)
    who = np.concatenate([ob[sel].astype(np.int64), vids, vids])
    when = np.concatenate([ot, lo, hi])
    # 0: window start, 1: order, 2: window end
    kind = np.repeat(np.array([1, 0, 2], dtype=np.int8), [m, k, k])
    order = np.lexsort((kind, when, who))
    running = np.cumsum(kind[order] == 1)
    at = np.empty(len(order), dtype=np.int64)
    at[order] = np.arange(len(order))
    return running[at[m + k :]] - running[at[m : m + k]]


def _young_store_rings(
    mg: MarketGraph,
    memb: np.ndarray,
    inside: np.ndarray,
    inside_orders: np.ndarray,
    has_ring: np.ndarray,
    n_comm: int,
    p: DetectParams,
) -> tuple[np.ndarray, np.ndarray]:
    """Test ring-less communities again on their young stores, concentration windowed.

    See ``young_store_days`` in :class:`DetectParams`. Returns ring buyer and kept seller
    masks over the vertices (all False when the test cannot run).
    """
    n = mg.vertices.height
    none = (np.zeros(n, dtype=bool), np.zeros(n, dtype=bool))
    created = mg.vertices["created_at"]
    if p.young_store_days is None or mg.orders is None or created.is_null().all():
        return none
    b = mg.edges["buyer_vid"].to_numpy()
    s = mg.edges["seller_vid"].to_numpy()
    cand = inside & ~has_ring[memb[s]]
    if not cand.any():
        return none
    # the candidate sellers' first sale, over all their edges
    first_at = mg.edges["first_at"].dt.epoch("us").to_numpy()
    is_cand = np.zeros(n, dtype=bool)
    is_cand[s[cand]] = True
    of_cand = is_cand[s]
    never = np.iinfo(np.int64).max
    first_sale = np.full(n, never, dtype=np.int64)
    np.minimum.at(first_sale, s[of_cand], first_at[of_cand])
    reg = created.dt.epoch("us").fill_null(never).to_numpy()
    young = is_cand & (reg != never) & (first_sale - reg <= int(p.young_store_days * 86_400e6))
    cand &= young[s]
    # each candidate buyer's ring window: its first and last order with the community's
    # sellers (all of them: the concentration is over the community, as in the first test)
    need = np.zeros(n, dtype=bool)
    need[b[cand]] = True
    need &= inside_orders >= p.ring_min_orders
    win = inside & need[b]
    if not win.any():
        return none
    lo = np.full(n, never, dtype=np.int64)
    hi = np.full(n, -never, dtype=np.int64)
    np.minimum.at(lo, b[win], first_at[win])
    np.maximum.at(hi, b[win], mg.edges["last_at"].dt.epoch("us").to_numpy()[win])
    v = np.flatnonzero(need)
    in_window = np.zeros(n, dtype=np.int64)
    in_window[v] = _orders_in_windows(mg, v, lo[v], hi[v])
    concentrated = need & (inside_orders >= p.min_concentration * in_window)
    return _ring_test(b, s, cand, concentrated, memb, n_comm, p)


def _ring_members(mg: MarketGraph, memb: np.ndarray, p: DetectParams) -> pl.DataFrame:
    """Apply the ring test to a community per vertex: ``cand``, ``account_id``, ``role``.

    A community with at most ``ring_max_sellers`` sellers is a ring candidate; its
    buyers that place at least ``min_concentration`` of their orders (and at least
    ``ring_min_orders``) with its sellers are concentrated; its sellers bought from by
    at least ``ring_min_buyers`` concentrated buyers are kept, and the concentrated
    buyers of kept sellers are the ring's buyers when there are ``ring_min_buyers`` to
    ``ring_max_buyers`` of them. A community left without a ring is tested again on its
    young stores with concentration counted within each buyer's ring window
    (``young_store_days``). Array work indexed by vertex id (a vertex is in one
    community, an edge is one buyer–seller pair): no join over the market's edges.
    """
    n = mg.vertices.height
    memb = np.asarray(memb, dtype=np.int64)
    n_comm = int(memb.max()) + 1 if n else 0
    is_seller = (mg.vertices["kind"] == "seller").to_numpy()
    b = mg.edges["buyer_vid"].to_numpy()
    s = mg.edges["seller_vid"].to_numpy()
    orders = mg.edges["n_orders"].to_numpy()
    n_sellers = np.bincount(memb[is_seller], minlength=n_comm)
    ring_seller = is_seller & (n_sellers[memb] <= p.ring_max_sellers)
    total = np.bincount(b, weights=orders, minlength=n)
    # edges from a buyer of the seller's community to a seller of a ring-sized community
    inside = ring_seller[s] & (memb[b] == memb[s])
    ib = b[inside]
    has_inside = np.zeros(n, dtype=bool)
    has_inside[ib] = True
    inside_orders = np.bincount(ib, weights=orders[inside], minlength=n)
    concentrated = (
        has_inside
        & (inside_orders >= p.min_concentration * total)
        & (inside_orders >= p.ring_min_orders)
    )
    buyer, seller = _ring_test(b, s, inside, concentrated, memb, n_comm, p)
    has_ring = np.zeros(n_comm, dtype=bool)
    has_ring[memb[buyer]] = True
    young_buyer, young_seller = _young_store_rings(
        mg, memb, inside, inside_orders, has_ring, n_comm, p
    )
    bv = np.flatnonzero(buyer | young_buyer)
    sv = np.flatnonzero(seller | young_seller)
    vid = np.concatenate([bv, sv])
    ids = mg.vertices["account_id"]
    return pl.DataFrame(
        {
            "cand": memb[vid],
            "account_id": ids.gather(vid),
            "role": pl.Series(["buyer", "seller"]).gather(
                np.repeat(np.array([0, 1]), [len(bv), len(sv)])
            ),
        },
        schema={"cand": pl.Int64, "account_id": pl.String, "role": pl.String},
    )


def _dense_candidates(
    mg: MarketGraph, susp: pl.DataFrame, p: DetectParams, mask: np.ndarray | None
) -> pl.DataFrame:
    """FRAUDAR blocks as candidates (``cand``, ``account_id``, ``role``, ``kind``).

    With a candidate ``mask`` (:func:`ring_candidate_edges`) FRAUDAR peels that
    subgraph only, and each edge keeps FRAUDAR's column weight ``1 / log(d + 5)``
    from the seller's degree in the *whole* graph: the same objective, restricted
    to the part of the market that can hold a ring.
    """
    from graphkit.detect.dense import dense_blocks, fraudar_weights

    edge_weight = susp["suspicion"].to_numpy()
    graph, column_weighting = mg, "log"
    if mask is not None:
        col = fraudar_weights(mg.edges["seller_vid"].to_numpy(), n_sellers=mg.vertices.height)
        edge_weight = (edge_weight * col)[mask]
        # dense_blocks reads the edges' two ends only
        sub = mg.edges.select("buyer_vid", "seller_vid").filter(pl.Series(mask))
        graph = dataclasses.replace(mg, edges=sub)
        column_weighting = "none"
    dense = dense_blocks(
        graph,
        n_blocks=p.dense_n_blocks,
        edge_weight=edge_weight,
        column_weighting=column_weighting,  # type: ignore[arg-type]
        eps=p.dense_eps,
        min_buyers=p.min_group_buyers,
    ).filter(pl.col("block_n_buyers") <= p.dense_max_buyers)
    return dense.select(pl.col("block").alias("cand"), "account_id", "role").with_columns(
        pl.lit("dense_block").alias("kind")
    )


def _candidates(
    ds: Dataset,
    mg: MarketGraph,
    idg: IdentityGraph,
    p: DetectParams,
    seed: int,
    clusters: pl.DataFrame | None = None,
) -> tuple[pl.DataFrame, pl.DataFrame, pl.DataFrame]:
    """All candidate groups: (members(kind, cand, account_id, role), strong links, clusters).

    ``clusters``: :func:`linked_account_clusters` of ``idg`` at ``identity_min_weight``
    (all sizes), when the caller has it already; else computed here while Leiden runs
    (it is not an input of Leiden's), and returned.
    """
    from graphkit.detect.identity import linked_account_clusters
    from graphkit.detect.lockstep import lockstep_groups

    strong = idg.links.filter(pl.col("weight") >= p.identity_min_weight)
    susp = edge_suspicion(mg, strong, params=p)
    weights = susp["weight"].to_numpy()
    parts = []
    ring_mask = ring_candidate_edges(mg, susp, params=p) if p.candidate_subgraph else None
    # Leiden runs in a child process on a large graph: FRAUDAR, lockstep and the identity
    # clusters run in this thread meanwhile (on a small graph the job is done when it
    # returns; same results)
    with _start_ring_leiden(mg, weights, p, seed, ring_mask) as job:
        dense = _dense_candidates(mg, susp, p, ring_mask)
        # the market graph's integer-coded orders when it has them (no string re-hashing)
        coded = mg.orders is not None
        lock = lockstep_groups(
            mg.orders if coded else ds.orders.select("buyer_id", "seller_id", "created_at"),
            account_ids=mg.vertices["account_id"] if coded else None,
            window=timedelta(days=p.lockstep_window_days),
            min_shared_windows=p.lockstep_min_shared,
            max_bucket_buyers=p.lockstep_max_bucket,
            min_buyers=p.min_group_buyers,
            seed=seed,
        )
        if clusters is None:
            clusters = linked_account_clusters(idg, min_weight=p.identity_min_weight)
        memb = job.result()
    ring = _ring_members(mg, memb, p)
    parts.append(ring.with_columns(pl.lit("shill_ring").alias("kind")))
    parts.append(dense)
    parts.append(
        lock.select(pl.col("group").alias("cand"), "account_id", "role").with_columns(
            pl.lit("lockstep").alias("kind")
        )
    )
    # = linked_account_clusters(..., max_size=linked_max_size): the same rows, filtered
    cl = clusters.filter(pl.col("cluster_size") <= p.linked_max_size).select(
        "cluster_id", "account_id"
    )
    cl = cl.with_columns(mg.vertices["kind"].gather(mg.vid_of(cl["account_id"])).alias("role"))
    cl = cl.with_columns(
        pl.col("cluster_id").rank("dense").cast(pl.Int64).alias("cand"),
        pl.col("role").fill_null("buyer"),
    )
    parts.append(cl.select("cand", "account_id", "role", pl.lit("linked_accounts").alias("kind")))
    members = pl.concat([x.select("kind", "cand", "account_id", "role") for x in parts])
    return members.unique().sort("kind", "cand", "role", "account_id"), strong, clusters


# --------------------------------------------------------------------------- scoring
def _signal(
    name: str,
    value: pl.Expr,
    strength: pl.Expr,
    weight: float,
    detail: pl.Expr,
    threshold: float | None = None,
) -> pl.Expr:
    return pl.struct(
        pl.lit(name).alias("name"),
        value.cast(pl.Float64).alias("value"),
        pl.lit(threshold, dtype=pl.Float64).alias("threshold"),
        (strength.clip(0.0, 1.0).fill_null(0.0).fill_nan(0.0) * weight).alias("contribution"),
        detail.alias("detail"),
    )


def _edges_of(mg: MarketGraph, vids: pl.Series, end: str, columns: list[str]) -> pl.DataFrame:
    """Return ``columns`` of the edges whose ``end`` vertex is one of ``vids`` (nulls ignored).

    In edge order: a boolean mask over the vertices gathered at every edge's end, applied
    to the columns asked for only (the edge table has ~30, the id strings included).
    """
    member = np.zeros(mg.vertices.height, dtype=bool)
    member[vids.drop_nulls().to_numpy()] = True
    return mg.edges.select(columns).filter(pl.Series(member[mg.edges[end].to_numpy()]))


def score_groups(
    members: pl.DataFrame,
    mg: MarketGraph,
    strong_links: pl.DataFrame,
    *,
    params: DetectParams | None = None,
) -> pl.DataFrame:
    """Score buyer–seller groups from named signals.

    Parameters
    ----------
    members
        ``gid`` (any integer group key), ``account_id``, ``role``.
    mg
        The buyer–seller graph.
    strong_links
        Identity links counted as "linked" (``account_a``, ``account_b``).
    params
        Thresholds and signal weights.

    Returns
    -------
    pl.DataFrame
        ``gid``, ``score`` (0..1), ``signals`` (list of ``SIGNAL``), ``n_buyers``,
        ``n_sellers``, sorted by ``gid``. Groups without a buyer or a seller get no row.

    Examples
    --------
    >>> score_groups(members, mg, idg.links)  # doctest: +SKIP
    """
    p = params or DetectParams()
    w = {**SIGNAL_WEIGHTS, **dict(p.signal_weights)}
    e = mg.edges
    gb = members.filter(pl.col("role") == "buyer").select(
        "gid", pl.col("account_id").alias("buyer_id")
    )
    gb = gb.with_columns(mg.vid_of(gb["buyer_id"]).alias("buyer_vid"))
    gs = members.filter(pl.col("role") == "seller").select(
        "gid", pl.col("account_id").alias("seller_id")
    )
    gs = gs.with_columns(mg.vid_of(gs["seller_id"]).alias("seller_vid"))
    m_edges = float(max(e.height, 1))
    # only the edges of member buyers / member sellers are read, and only the columns used
    e_b = _edges_of(
        mg,
        gb["buyer_vid"],
        "buyer_vid",
        [
            "buyer_vid",
            "seller_vid",
            "n_orders",
            "amount",
            "n_feedback",
            "n_top_ratings",
            "first_at",
            "last_at",
        ],
    )
    e_s = _edges_of(
        mg,
        gs["seller_vid"],
        "seller_vid",
        ["seller_vid", "n_orders", "amount", "n_feedback", "first_at", "last_at"],
    )
    bdeg = e_b.group_by("buyer_vid").agg(
        pl.len().cast(pl.Int64).alias("bdeg"), pl.col("n_orders").sum().alias("b_orders")
    )
    # sorted by seller first: each seller's amounts are summed in edge order every run
    sdeg = (
        e_s.sort("seller_vid", maintain_order=True)
        .group_by("seller_vid", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("sdeg"),
            pl.col("n_orders").sum().alias("s_orders"),
            pl.col("amount").sum().alias("s_amount"),
            pl.col("n_feedback").sum().alias("s_feedback"),
            pl.col("first_at").min().alias("s_first"),
            pl.col("last_at").max().alias("s_last"),
        )
    )
    # joins do not keep row order: sort before any float sum or mean, so the same input
    # gives the same bits (and the same rounded numbers in the signal details) every run
    inner = (
        e_b.join(gb.select("gid", "buyer_vid"), on="buyer_vid")
        .join(gs.select("gid", "seller_vid"), on=["gid", "seller_vid"])
        .sort("gid", "buyer_vid", "seller_vid")
    )
    created = mg.vertices.select(pl.col("vid").alias("buyer_vid"), "created_at")
    per_buyer = (
        inner.group_by("gid", "buyer_vid")
        .agg(pl.col("n_orders").sum().alias("inside"), pl.col("first_at").min().alias("b_first"))
        .join(bdeg, on="buyer_vid")
        .join(created, on="buyer_vid", how="left")
        .sort("gid", "buyer_vid")
        .group_by("gid")
        .agg(
            (pl.col("inside") / pl.col("b_orders")).mean().alias("concentration"),
            ((pl.col("b_first") - pl.col("created_at")).dt.total_seconds() / 86400.0)
            .median()
            .alias("age_days"),
        )
    )
    g_inner = inner.group_by("gid").agg(
        pl.len().cast(pl.Int64).alias("n_edges"),
        pl.col("n_orders").sum().alias("g_orders"),
        pl.col("amount").sum().alias("g_amount"),
        pl.col("n_feedback").sum().alias("g_feedback"),
        pl.col("n_top_ratings").sum().alias("g_top"),
        pl.col("first_at").min().alias("g_first"),
        pl.col("last_at").max().alias("g_last"),
    )
    g_b = (
        gb.join(bdeg, on="buyer_vid", how="left")
        .group_by("gid")
        .agg(
            pl.len().cast(pl.Int64).alias("n_buyers"),
            pl.col("bdeg").fill_null(0).sum().alias("sum_bdeg"),
        )
    )
    reg = mg.vertices.select(pl.col("vid").alias("seller_vid"), _reg="created_at")
    g_s = (
        gs.join(sdeg, on="seller_vid", how="left")
        .join(reg, on="seller_vid", how="left")
        .sort("gid", "seller_id")
        .group_by("gid")
        .agg(
            pl.len().cast(pl.Int64).alias("n_sellers"),
            pl.col("sdeg").fill_null(0).sum().alias("sum_sdeg"),
            pl.col("s_orders").sum().alias("s_orders"),
            pl.col("s_amount").sum().alias("s_amount"),
            pl.col("s_feedback").sum().alias("s_feedback"),
            pl.col("s_first").min().alias("s_first"),
            pl.col("s_last").max().alias("s_last"),
            # days from registering to the first sale, of the slowest seller (null when any
            # seller's registration is unknown)
            pl.when(pl.col("_reg").is_not_null().all())
            .then(((pl.col("s_first") - pl.col("_reg")).dt.total_seconds() / 86400.0).max())
            .alias("store_days"),
        )
    )
    gb = gb.select("gid", "buyer_id")
    # identity: buyers linked to another member of their group
    acc = members.select("gid", "account_id")
    both = pl.concat(
        [
            strong_links.select(pl.col("account_a").alias("x"), pl.col("account_b").alias("y")),
            strong_links.select(pl.col("account_b").alias("x"), pl.col("account_a").alias("y")),
        ]
    )
    linked = (
        gb.join(both, left_on="buyer_id", right_on="x")
        .join(acc, left_on=["gid", "y"], right_on=["gid", "account_id"], how="semi")
        .group_by("gid")
        .agg(pl.col("buyer_id").n_unique().cast(pl.Int64).alias("n_linked"))
    )
    top_share_pop = float(e["n_top_ratings"].sum()) / max(float(e["n_feedback"].sum()), 1.0)
    has_age = mg.vertices["created_at"].is_not_null().any()
    g = (
        g_b.join(g_s, on="gid")
        .join(g_inner, on="gid", how="left")
        .join(per_buyer, on="gid", how="left")
        .join(linked, on="gid", how="left")
        .with_columns(pl.col("n_edges", "g_orders", "g_feedback", "g_top", "n_linked").fill_null(0))
    )
    expected = (pl.col("sum_bdeg") * pl.col("sum_sdeg") / m_edges).clip(
        upper_bound=pl.col("n_buyers") * pl.col("n_sellers")
    )
    ratio = pl.col("n_edges") / expected
    age = pl.col("age_days")
    g_mean = pl.col("g_amount") / pl.col("g_orders")
    s_mean = pl.col("s_amount") / pl.col("s_orders")
    top = pl.col("g_top") / pl.col("g_feedback")
    # shrink toward the population share with 5 pseudo-ratings: 2 of 2 is not 30 of 30
    top_smooth = (pl.col("g_top") + 5.0 * top_share_pop) / (pl.col("g_feedback") + 5.0)
    span_g = (pl.col("g_last") - pl.col("g_first")).dt.total_seconds()
    span_s = (pl.col("s_last") - pl.col("s_first")).dt.total_seconds()
    fb_share = pl.col("g_feedback") / pl.col("s_feedback")
    per_edge = pl.col("g_orders") / pl.col("n_edges")
    young = pl.lit(p.young_store_days if p.young_store_days is not None else -1.0)
    signals = [
        _signal(
            "density_ratio",
            ratio,
            ratio.log10() / 3.0,
            w["density_ratio"],
            pl.format(
                "{} edges inside vs {} expected at random", pl.col("n_edges"), expected.round(3)
            ),
        ),
        _signal(
            "account_age",
            age,
            1.0 - age / (3.0 * p.new_account_days),
            w["account_age"],
            pl.format("median buyer age at first group order: {} days", age.round(1)),
        ),
        _signal(
            "identity_sharing",
            pl.col("n_linked") / pl.col("n_buyers"),
            pl.col("n_linked") / pl.col("n_buyers"),
            w["identity_sharing"],
            pl.format(
                "{} of {} buyers share identifiers with another member",
                pl.col("n_linked"),
                pl.col("n_buyers"),
            ),
        ),
        _signal(
            "amount_size",
            g_mean / s_mean,
            1.0 - g_mean / s_mean,
            w["amount_size"],
            pl.format(
                "mean group order {} vs sellers' mean order {}", g_mean.round(2), s_mean.round(2)
            ),
        ),
        _signal(
            "rating_extremity",
            top,
            (top_smooth - top_share_pop) / (1.0 - top_share_pop + 1e-9),
            w["rating_extremity"],
            pl.format(
                "{} of {} group ratings are top (population share {})",
                pl.col("g_top"),
                pl.col("g_feedback"),
                pl.lit(round(top_share_pop, 3)),
            ),
        ),
        _signal(
            "time_concentration",
            1.0 - span_g / span_s,
            1.0 - span_g / span_s,
            w["time_concentration"],
            pl.format(
                "group active {} days of the sellers' {} days",
                (span_g / 86400).round(1),
                (span_s / 86400).round(1),
            ),
        ),
        _signal(
            "seller_rating_share",
            fb_share,
            fb_share,
            w["seller_rating_share"],
            pl.format(
                "{} of the sellers' {} buyer ratings come from the group",
                pl.col("g_feedback"),
                pl.col("s_feedback"),
            ),
        ),
        _signal(
            "buyer_concentration",
            pl.col("concentration"),
            pl.col("concentration"),
            w["buyer_concentration"],
            pl.format(
                "member buyers place {} of their orders with the group's sellers (mean)",
                pl.col("concentration").round(3),
            ),
        ),
        _signal(
            "repeat_purchases",
            per_edge,
            (per_edge - 1.0) / 4.0,
            w["repeat_purchases"],
            pl.format("{} orders per buyer–seller pair inside the group", per_edge.round(2)),
        ),
        _signal(
            "young_stores",
            pl.col("store_days"),
            (pl.col("store_days") <= young).cast(pl.Float64),
            w["young_stores"],
            pl.format(
                "the group's slowest seller made its first sale {} days after registering",
                pl.col("store_days").round(1),
            ),
            threshold=p.young_store_days,
        ),
    ]
    available = sum(w.values()) - (0.0 if has_age else w["account_age"])
    out = g.select(
        "gid", "n_buyers", "n_sellers", pl.concat_list(signals).alias("signals")
    ).with_columns(
        (
            pl.col("signals").list.eval(pl.element().struct.field("contribution")).list.sum()
            / max(available, 1e-9)
        )
        .clip(0.0, 1.0)
        .alias("score")
    )
    return out.with_columns(pl.col("signals").cast(pl.List(SIGNAL))).sort("gid")


def _score_linked(
    members: pl.DataFrame,
    mg: MarketGraph,
    strong: pl.DataFrame,
    *,
    min_score: float | None = None,
) -> pl.DataFrame:
    """Score identity clusters: strength of the links, trade inside, common sellers.

    Weights: ``identity_strength`` 0.2 (mean link weight), ``self_dealing`` 0.5
    (orders between the linked accounts, full at 3), ``common_seller`` 0.3 (full
    when 5 linked accounts bought from one seller, 0 for 2: a household shops at the
    same store).

    With ``min_score``, clusters whose score (summed from the same contributions, less a
    1e-9 margin for the order of the float additions) is below it get no row: the
    signals (structs and texts) are built for the clusters that can be reported only
    (at 10M orders ~2k of ~96k clusters). The rows returned are those of the unfiltered
    call, bit for bit.
    """
    acc = members.select("gid", "account_id")
    links = (
        strong.join(acc.rename({"account_id": "account_a"}), on="account_a")
        .join(acc.rename({"account_id": "account_b", "gid": "gid_b"}), on="account_b")
        .filter(pl.col("gid") == pl.col("gid_b"))
        .sort("gid", "account_a", "account_b")
    )
    mean_w = links.group_by("gid").agg(pl.col("weight").mean().alias("mean_w"))
    # the members as vertex ids (one small string join), then integer joins of the edges
    # (accounts without a vertex have no edge)
    accv = acc.select("gid", mg.vid_of(acc["account_id"]).alias("vid")).drop_nulls("vid")
    # the member buyers' edges only (the joins below keep nothing else)
    e = _edges_of(mg, accv["vid"], "buyer_vid", ["buyer_vid", "seller_vid", "n_orders"])
    self_deal = (
        e.join(accv.rename({"vid": "buyer_vid"}), on="buyer_vid")
        .join(accv.rename({"vid": "seller_vid"}), on=["gid", "seller_vid"])
        .group_by("gid")
        .agg(pl.col("n_orders").sum().alias("self_orders"))
    )
    common = (
        e.join(accv.rename({"vid": "buyer_vid"}), on="buyer_vid")
        .group_by("gid", "seller_vid")
        .agg(pl.col("buyer_vid").n_unique().alias("nb"))
        .group_by("gid")
        .agg(pl.col("nb").max().cast(pl.Int64).alias("max_common"))
    )
    size = acc.group_by("gid").agg(pl.len().cast(pl.Int64).alias("n"))
    g = (
        size.join(mean_w, on="gid", how="left")
        .join(self_deal, on="gid", how="left")
        .join(common, on="gid", how="left")
        .with_columns(pl.col("self_orders", "max_common").fill_null(0))
    )
    if min_score is not None:
        parts = [
            (pl.col("mean_w"), 0.2),
            (pl.col("self_orders") / 3.0, 0.5),
            ((pl.col("max_common") - 2) / 3.0, 0.3),
        ]
        total = pl.sum_horizontal(
            [x.clip(0.0, 1.0).fill_null(0.0).fill_nan(0.0) * wt for x, wt in parts]
        )
        g = g.filter(total.clip(0.0, 1.0) >= min_score - 1e-9)
    kinds = (
        links.join(g.select("gid"), on="gid", how="semi")
        .group_by("gid")
        .agg(
            pl.col("kinds")
            .list.explode(keep_nulls=False, empty_as_null=False)
            .unique()
            .sort()
            .alias("kinds"),
        )
    )
    g = g.join(kinds, on="gid", how="left")
    common_share = pl.col("max_common") / pl.col("n")
    signals = [
        _signal(
            "identity_strength",
            pl.col("mean_w"),
            pl.col("mean_w"),
            0.2,
            pl.format(
                "mean link weight {} over kinds {}",
                pl.col("mean_w").round(3),
                pl.col("kinds").list.join(","),
            ),
        ),
        _signal(
            "self_dealing",
            pl.col("self_orders"),
            pl.col("self_orders") / 3.0,
            0.5,
            pl.format("{} orders between linked accounts", pl.col("self_orders")),
        ),
        _signal(
            "common_seller",
            common_share,
            (pl.col("max_common") - 2) / 3.0,
            0.3,
            pl.format(
                "{} of {} linked accounts bought from one same seller",
                pl.col("max_common"),
                pl.col("n"),
            ),
        ),
    ]
    out = g.select("gid", pl.concat_list(signals).alias("signals")).with_columns(
        pl.col("signals")
        .list.eval(pl.element().struct.field("contribution"))
        .list.sum()
        .clip(0.0, 1.0)
        .alias("score")
    )
    return out.with_columns(pl.col("signals").cast(pl.List(SIGNAL))).sort("gid")


# --------------------------------------------------------------------------- entry point
def detect_groups(
    ds: Dataset,
    *,
    seed: int = 0,
    params: DetectParams | Mapping[str, Any] | None = None,
    market_graph: MarketGraph | None = None,
) -> GroupDetection:
    """Detect and score the groups acting together in a marketplace.

    Parameters
    ----------
    ds
        A validated dataset (``orders`` and ``feedback``; ``accounts``,
        ``identifiers``, ``refunds``, ``disputes`` used when present).
    seed
        Seed of every random step (Leiden); same input + seed = same output.
    params
        :class:`DetectParams` or a mapping of overrides (e.g. the ``[detect]``
        table of a scan config); unknown keys raise ``ConfigError``.
    market_graph
        ``build_market_graph(ds)`` when the caller has it already (built here otherwise).

    Returns
    -------
    GroupDetection
        Groups (``GROUPS_SCHEMA``, kinds :data:`GROUP_KINDS`), members,
        the identity graph and per-account signals.

    Examples
    --------
    >>> det = detect_groups(ds, seed=0, params={"min_score": 0.4})  # doctest: +SKIP
    >>> det.pairs().head()  # doctest: +SKIP
    """
    from graphkit.graph.build import build_identity_graph, build_market_graph

    p = params if isinstance(params, DetectParams) else DetectParams.from_mapping(params)
    mg = build_market_graph(ds) if market_graph is None else market_graph
    idg = build_identity_graph(ds, max_accounts_per_value=p.max_accounts_per_value)
    # the identity clusters once (computed while Leiden runs): the linked_accounts
    # candidates and the account signals
    cands, strong, clusters = _candidates(ds, mg, idg, p, seed)
    keyed = cands.with_columns(pl.struct("kind", "cand").rank("dense").cast(pl.Int64).alias("gid"))
    bs = keyed.filter(pl.col("kind") != "linked_accounts")
    # the groups that can be reported (the filter below) first: corroboration signals and
    # member lists for those only (identity clusters are ~96k candidates at 10M orders)
    scored = [
        score_groups(bs.select("gid", "account_id", "role"), mg, strong, params=p).filter(
            (pl.col("score") >= p.min_score)
            & (pl.col("n_buyers").fill_null(0) >= p.min_group_buyers)
        )
    ]
    linked = keyed.filter(pl.col("kind") == "linked_accounts")
    scored.append(
        _score_linked(linked, mg, strong, min_score=p.min_score)
        .filter(pl.col("score") >= p.min_score)
        .with_columns(
            pl.lit(None, dtype=pl.Int64).alias("n_buyers"),
            pl.lit(None, dtype=pl.Int64).alias("n_sellers"),
        )
    )
    scores = pl.concat(
        [s.select("gid", "score", "signals", "n_buyers") for s in scored], how="vertical_relaxed"
    )
    scores = _with_corroboration(scores, keyed)
    per = (
        keyed.join(scores.select("gid"), on="gid", how="semi")
        .group_by("gid")
        .agg(
            pl.col("kind").first(),
            pl.col("account_id").sort().alias("member_ids"),
            pl.col("account_id").filter(pl.col("role") == "seller").sort().alias("seller_ids"),
        )
    )
    g = per.join(scores, on="gid", how="inner").filter(
        (pl.col("score") >= p.min_score)
        & (
            (pl.col("kind") == "linked_accounts")
            | (pl.col("n_buyers").fill_null(0) >= p.min_group_buyers)
        )
    )
    g = g.with_columns(
        pl.Series(
            "group_id",
            [
                ids[0]
                for kind, m in zip(g["kind"].to_list(), g["member_ids"].to_list(), strict=True)
                for ids in [group_ids(kind, [m])]
            ],
            dtype=pl.String,
        )
    )
    groups = (
        g.select(list(GROUPS_SCHEMA))
        .cast(GROUPS_SCHEMA)  # type: ignore[arg-type]
        .unique("group_id", keep="first")
        .sort(["score", "group_id"], descending=[True, False])
    )
    members = (
        keyed.join(g.select("gid", "group_id"), on="gid")
        .select(list(MEMBERS_SCHEMA))
        .unique()
        .sort("group_id", "role", "account_id")
    )
    return GroupDetection(
        groups=groups,
        members=members,
        identity=idg,
        account_signals=_account_signals(groups, members, idg, p, clusters),
        params=p,
        seed=seed,
    )


def _with_corroboration(scores: pl.DataFrame, keyed: pl.DataFrame) -> pl.DataFrame:
    """Append a ``corroboration`` signal: other detector kinds that found about the same group.

    Two groups of different kinds corroborate each other when their member sets
    have Jaccard >= 0.5. Informational: contribution 0, the score is unchanged.
    """
    m = keyed.select("gid", "kind", "account_id")
    size = m.group_by("gid").agg(pl.len().cast(pl.Int64).alias("n"))
    # the groups of ``scores`` against every candidate group
    shared = (
        m.join(scores.select("gid"), on="gid", how="semi")
        .join(m.rename({"gid": "gid_b", "kind": "kind_b"}), on="account_id")
        .filter(pl.col("kind") != pl.col("kind_b"))
        .group_by("gid", "gid_b", "kind_b")
        .agg(pl.len().cast(pl.Int64).alias("shared"))
        .join(size, on="gid")
        .join(size.rename({"gid": "gid_b", "n": "n_b"}), on="gid_b")
        .filter(pl.col("shared") >= 0.5 * (pl.col("n") + pl.col("n_b") - pl.col("shared")))
        .group_by("gid")
        .agg(pl.col("kind_b").unique().sort().alias("also"))
    )
    out = scores.join(shared, on="gid", how="left").with_columns(
        pl.col("also").fill_null(pl.lit([], dtype=pl.List(pl.String)))
    )
    sig = pl.struct(
        pl.lit("corroboration").alias("name"),
        pl.col("also").list.len().cast(pl.Float64).alias("value"),
        pl.lit(None, dtype=pl.Float64).alias("threshold"),
        pl.lit(0.0).alias("contribution"),
        pl.when(pl.col("also").list.len() > 0)
        .then(pl.format("also found as {}", pl.col("also").list.join(", ")))
        .otherwise(pl.lit("found by this detector only"))
        .alias("detail"),
    ).cast(SIGNAL)
    return out.with_columns(
        pl.concat_list(pl.col("signals"), pl.concat_list(sig)).alias("signals")
    ).drop("also")


def _account_signals(
    groups: pl.DataFrame,
    members: pl.DataFrame,
    idg: IdentityGraph,
    p: DetectParams,
    clusters: pl.DataFrame | None = None,
) -> pl.DataFrame:
    from graphkit.detect.identity import linked_account_clusters

    if clusters is None:
        clusters = linked_account_clusters(idg, min_weight=p.identity_min_weight)

    m = members.join(groups.select("group_id", "kind", "score"), on="group_id")
    per = (
        m.sort(["score", "group_id"], descending=[True, False])
        .group_by("account_id", maintain_order=True)
        .agg(
            pl.len().cast(pl.Int64).alias("n_groups"),
            pl.col("score").first().alias("max_group_score"),
            pl.col("group_id").first(),
            pl.col("kind").first().alias("group_kind"),
            (pl.col("kind") == "shill_ring").any().alias("in_shill_ring"),
            (pl.col("kind") == "dense_block").any().alias("in_dense_block"),
            (pl.col("kind") == "lockstep").any().alias("in_lockstep"),
        )
    )
    clusters = clusters.select(
        "account_id",
        pl.col("cluster_id").alias("linked_cluster_id"),
        pl.col("n_links").alias("n_identity_links"),
    )
    out = per.join(clusters, on="account_id", how="full", coalesce=True).with_columns(
        pl.col("n_groups", "n_identity_links").fill_null(0),
        pl.col("in_shill_ring", "in_dense_block", "in_lockstep").fill_null(False),
    )
    return (
        out.select(list(ACCOUNT_SIGNALS_SCHEMA))
        .cast(  # type: ignore[arg-type]
            ACCOUNT_SIGNALS_SCHEMA
        )
        .sort("account_id")
    )
