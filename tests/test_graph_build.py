"""The buyer–seller graph and the identity graph on hand-built data with known answers."""

from __future__ import annotations

import math

import numpy as np
import polars as pl
import pytest

from graphkit.contract import TIME
from graphkit.dataset import Dataset
from graphkit.graph import build_identity_graph, build_market_graph
from graphkit.io import dataset_from_frames


def _ds(orders: list[tuple], identifiers: list[tuple] | None = None, accounts=None) -> Dataset:
    t = "2026-03-{:02d}T10:00:00Z".format
    frames = {
        "orders": pl.DataFrame(
            {
                "order_id": [f"o{i}" for i in range(len(orders))],
                "buyer_id": [o[0] for o in orders],
                "seller_id": [o[1] for o in orders],
                "amount": [float(o[2]) for o in orders],
                "created_at": [t(o[3]) for o in orders],
                "paid_at": [t(o[3]) for o in orders],
            }
        ),
        "feedback": pl.DataFrame(
            {
                "feedback_id": ["f0"],
                "order_id": ["o0"],
                "author_id": [orders[0][0]],
                "target_id": [orders[0][1]],
                "rating": [4],
                "dsr_item_as_described": [4],
                "dsr_communication": [4],
                "dsr_shipping_speed": [4],
                "created_at": [t(28)],
            }
        ),
    }
    if identifiers is not None:
        frames["identifiers"] = pl.DataFrame(
            {
                "account_id": [i[0] for i in identifiers],
                "kind": [i[1] for i in identifiers],
                "value": [i[2] for i in identifiers],
            }
        )
    if accounts is not None:
        frames["accounts"] = accounts
    return dataset_from_frames(frames)


def test_market_graph_aggregates_pairs(tiny: dict[str, pl.DataFrame]) -> None:
    mg = build_market_graph(dataset_from_frames(tiny))
    assert mg.vertices["account_id"].to_list() == ["b1", "b2", "b3", "s1", "s2"]
    assert mg.vertices["vid"].to_list() == [0, 1, 2, 3, 4]
    assert mg.vertices["kind"].to_list() == ["buyer"] * 3 + ["seller"] * 2
    e = {(r["buyer_id"], r["seller_id"]): r for r in mg.edges.iter_rows(named=True)}
    assert set(e) == {("b1", "s1"), ("b1", "s2"), ("b2", "s1"), ("b3", "s2")}
    b1s1 = e[("b1", "s1")]
    assert (b1s1["n_orders"], b1s1["n_feedback"], b1s1["rating_sum"], b1s1["n_top_ratings"]) == (
        1,
        1,
        5,
        1,
    )
    assert b1s1["dsr_shipping_speed_sum"] == 4
    assert b1s1["n_seller_feedback"] == 1  # s1 rated b1
    b2s1 = e[("b2", "s1")]
    assert (b2s1["n_low_ratings"], b2s1["n_refunds"], b2s1["refund_amount"], b2s1["n_cases"]) == (
        1,
        1,
        5.0,
        1,
    )
    # ratings >= 4 by the buyer: b1's 5 on s1; b2's low rating and s1's rating of b1 are not
    assert (b1s1["n_positive_ratings"], b2s1["n_positive_ratings"]) == (1, 0)
    assert e[("b3", "s2")]["n_paid"] == 0
    assert e[("b1", "s2")]["n_feedback"] == 0


def test_igraph_matches_frames(tiny: dict[str, pl.DataFrame]) -> None:
    mg = build_market_graph(dataset_from_frames(tiny))
    g = mg.graph
    assert g.is_directed()
    assert g.vcount() == 5
    assert g.ecount() == 4
    assert g.vs["name"] == mg.vertices["account_id"].to_list()
    assert g.vs["type"] == [False, False, False, True, True]
    assert g.get_edgelist() == list(
        zip(mg.edges["buyer_vid"].to_list(), mg.edges["seller_vid"].to_list(), strict=True)
    )
    assert g.es["n_orders"] == mg.edges["n_orders"].to_list()
    np.testing.assert_array_equal(mg.vids(["s2", "b1"]), [4, 0])
    with pytest.raises(KeyError, match="nobody"):
        mg.vids(["nobody"])


def test_repeated_orders_aggregate_and_kind_inferred_without_accounts() -> None:
    ds = _ds([("b", "s", 5, 1), ("b", "s", 7, 9), ("s", "x", 1, 2)])
    mg = build_market_graph(ds)
    kinds = dict(zip(mg.vertices["account_id"], mg.vertices["kind"], strict=True))
    # without an accounts table, anyone who ever sold is a seller
    assert kinds == {"b": "buyer", "s": "seller", "x": "seller"}
    row = mg.edges.filter(pl.col("buyer_id") == "b").row(0, named=True)
    assert (row["n_orders"], row["amount"]) == (2, 12.0)
    assert row["first_at"].day == 1
    assert row["last_at"].day == 9
    assert mg.edges.schema["first_at"] == TIME
    assert mg.vertices["created_at"].null_count() == 3


def test_identity_links_household_card_and_nat_hub() -> None:
    nat = [(f"n{i:02d}", "ip", "NAT") for i in range(30)]
    ident = [
        ("h1", "address", "A1"),
        ("h2", "address", "A1"),  # a household
        ("c1", "payment", "P"),
        ("c2", "payment", "P"),
        ("c3", "payment", "P"),  # shared card
        ("x1", "ip", "I"),
        ("x2", "ip", "I"),
        ("x1", "address", "A2"),
        ("x2", "address", "A2"),
        ("h1", "address", "A1"),  # a duplicate row counts once
        *nat,
    ]
    idg = build_identity_graph(_ds([("h1", "s", 1, 1)], ident), max_accounts_per_value=20)
    links = {(r["account_a"], r["account_b"]): r for r in idg.links.iter_rows(named=True)}
    assert set(links) == {("h1", "h2"), ("c1", "c2"), ("c1", "c3"), ("c2", "c3"), ("x1", "x2")}
    assert links[("h1", "h2")]["weight"] == pytest.approx(0.5)
    assert links[("c1", "c3")]["weight"] == pytest.approx(1.0 / math.log2(3))
    assert links[("x1", "x2")]["kinds"] == ["address", "ip"]
    assert links[("x1", "x2")]["n_shared"] == 2
    assert links[("x1", "x2")]["weight"] == pytest.approx(0.8)
    # the NAT address links nobody and is reported as a hub
    assert idg.hubs.rows() == [("ip", "NAT", 30)]
    assert not any(a.startswith("n") for a, _ in links)
    assert idg.links.schema["n_shared"] == pl.Int64


def test_identity_hub_cap_is_a_parameter() -> None:
    ident = [(f"n{i}", "ip", "NAT") for i in range(5)]
    ds = _ds([("n0", "s", 1, 1)], ident)
    assert build_identity_graph(ds, max_accounts_per_value=4).links.is_empty()
    assert build_identity_graph(ds, max_accounts_per_value=5).links.height == 10


def test_identity_between_is_order_insensitive() -> None:
    idg = build_identity_graph(_ds([("a", "s", 1, 1)], [("a", "phone", "T"), ("b", "phone", "T")]))
    out = idg.between(pl.DataFrame({"account_a": ["b", "a", "a"], "account_b": ["a", "b", "z"]}))
    assert out["weight"].to_list() == [pytest.approx(0.9), pytest.approx(0.9), None]


def test_identity_graph_empty_without_table() -> None:
    idg = build_identity_graph(_ds([("a", "s", 1, 1)]))
    assert idg.links.is_empty()
    assert idg.hubs.is_empty()
    assert idg.links.columns == ["account_a", "account_b", "kinds", "n_shared", "weight"]


def test_pair_float_sums_are_the_same_bits_every_build() -> None:
    """Same input, same bits: a hash group-by adds a pair's amounts in a thread-dependent
    order (the last bits of ``amount`` differed between builds before the sort on the pair key)."""
    rng = np.random.default_rng(0)
    n = 300_000
    buyer = rng.integers(0, 40, n)
    seller = rng.integers(0, 5, n)
    # magnitudes from 1e-3 to 1e5: the rounding of a float sum depends on the order of its terms
    amount = rng.random(n) * 10.0 ** rng.integers(-3, 6, n)
    t0 = pl.datetime(2026, 3, 1, time_zone="UTC")
    orders = pl.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n)],
            "buyer_id": [f"b{i}" for i in buyer],
            "seller_id": [f"s{i}" for i in seller],
            "amount": amount,
        }
    ).with_columns(t0.cast(TIME).alias("created_at"), t0.cast(TIME).alias("paid_at"))
    feedback = pl.DataFrame(
        schema={
            "order_id": pl.String,
            "author_id": pl.String,
            "rating": pl.Int8,
            "dsr_item_as_described": pl.Int8,
            "dsr_communication": pl.Int8,
            "dsr_shipping_speed": pl.Int8,
        }
    )
    ds = Dataset(
        tables={"orders": orders.lazy(), "feedback": feedback.lazy()},
        as_of=orders["created_at"][0],
    )
    builds = [build_market_graph(ds).edges for _ in range(4)]
    assert all(b.equals(builds[0]) for b in builds[1:])
    expected = (
        orders.group_by("buyer_id", "seller_id")
        .agg(pl.col("amount").sum())
        .sort("buyer_id", "seller_id")["amount"]
        .to_numpy()
    )
    got = builds[0].sort("buyer_id", "seller_id")["amount"].to_numpy()
    np.testing.assert_allclose(got, expected, rtol=1e-12)


def test_market_graph_keeps_integer_coded_orders(tiny: dict[str, pl.DataFrame]) -> None:
    """``mg.orders``: one row per order, vids decoding to the order's buyer and seller."""
    mg = build_market_graph(dataset_from_frames(tiny))
    assert mg.orders is not None
    assert mg.orders.columns == ["buyer_vid", "seller_vid", "created_at", "amount", "coupon"]
    assert mg.orders.schema["buyer_vid"] == pl.Int32
    ids = mg.vertices["account_id"]
    decoded = sorted(
        zip(
            ids.gather(mg.orders["buyer_vid"]).to_list(),
            ids.gather(mg.orders["seller_vid"]).to_list(),
            mg.orders["created_at"].to_list(),
            mg.orders["amount"].to_list(),
            mg.orders["coupon"].to_list(),
            strict=True,
        )
    )
    orders = tiny["orders"].with_columns(pl.col("created_at").str.to_datetime(time_zone="UTC"))
    has_coupon = pl.col("coupon_id").is_not_null() if "coupon_id" in orders.columns else False
    expected = sorted(
        orders.select("buyer_id", "seller_id", "created_at", "amount", coupon=has_coupon).rows()
    )
    assert decoded == expected
    assert mg.orders.height == tiny["orders"].height
    # edge i's orders are the n_orders rows after those of edges 0..i-1
    runs = np.repeat(np.arange(mg.edges.height), mg.edges["n_orders"].to_numpy())
    assert (mg.orders["buyer_vid"].to_numpy() == mg.edges["buyer_vid"].to_numpy()[runs]).all()
    assert (mg.orders["seller_vid"].to_numpy() == mg.edges["seller_vid"].to_numpy()[runs]).all()


def test_hash_collision_falls_back_to_exact_string_joins(
    tiny: dict[str, pl.DataFrame], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Ids are joined on their 64-bit hashes only when the distinct ids' hashes are distinct;
    with a (forced) collision the strings are joined, with the same edges."""
    import graphkit.graph.build as build

    ds = dataset_from_frames(tiny)
    hashed = build_market_graph(ds)
    calls: list[int] = []

    def collide(hashes: pl.Series) -> bool:
        calls.append(hashes.len())
        return False

    monkeypatch.setattr(build, "_unique_hashes", collide)
    joined = build_market_graph(ds)
    # the 5 accounts of the accounts table, the 5 accounts of the orders, the 4 order ids
    assert calls == [5, 5, 4]
    assert joined.edges.equals(hashed.edges)
    assert joined.orders is not None
    assert hashed.orders is not None
    assert joined.orders.equals(hashed.orders)
    # the known answers on either path: b1 -> s1 has the buyer's 5 and the seller's feedback
    row = hashed.edges.filter(pl.col("buyer_id") == "b1", pl.col("seller_id") == "s1")
    assert row.select("n_feedback", "rating_sum", "n_top_ratings", "n_seller_feedback").row(0) == (
        1,
        5,
        1,
        1,
    )


def test_unique_hashes_detects_a_collision() -> None:
    from graphkit.graph.build import _unique_hashes

    assert _unique_hashes(pl.Series(["a", "b", "c"]).hash())
    assert not _unique_hashes(pl.Series(["a", "b", "a"]).hash())  # equal values hash equal


def test_orders_with_accounts_missing_from_the_accounts_table(
    tiny: dict[str, pl.DataFrame],
) -> None:
    """An order account absent from ``accounts`` (unvalidated input) becomes a vertex with its
    inferred role, as without the fast path that codes the orders against the accounts table."""
    tables = dataset_from_frames(tiny).tables
    accounts = tables["accounts"].filter(pl.col("account_id") != "b3")
    ds = Dataset(tables={**tables, "accounts": accounts}, as_of=dataset_from_frames(tiny).as_of)
    mg = build_market_graph(ds)
    b3 = mg.vertices.filter(pl.col("account_id") == "b3")
    assert b3.select("vid", "kind").row(0) == (2, "buyer")
    assert b3["created_at"].is_null().all()
    assert mg.edges.filter(pl.col("buyer_id") == "b3")["seller_id"].to_list() == ["s2"]


def test_order_seller_recorded_as_a_buyer_account(tiny: dict[str, pl.DataFrame]) -> None:
    """Sellers are looked up among the stores first; a seller id whose account is not a
    store (kind ``buyer`` in ``accounts``) is found among every account: same edges."""
    want = build_market_graph(dataset_from_frames(tiny))
    tables = dataset_from_frames(tiny).tables
    accounts = tables["accounts"].with_columns(
        pl.when(pl.col("account_id") == "s2")
        .then(pl.lit("buyer"))
        .otherwise(pl.col("kind"))
        .alias("kind")
    )
    ds = Dataset(tables={**tables, "accounts": accounts}, as_of=dataset_from_frames(tiny).as_of)
    mg = build_market_graph(ds)
    assert mg.vertices.filter(pl.col("account_id") == "s2")["kind"].to_list() == ["buyer"]
    assert mg.edges.equals(want.edges)
    assert mg.orders is not None
    assert want.orders is not None
    assert mg.orders.equals(want.orders)


def test_repeated_values_are_those_on_more_than_one_row() -> None:
    from graphkit.graph.build import _repeated

    got = _repeated(pl.Series([5, 1, 5, 3, 1, 5, 7], dtype=pl.UInt64))
    assert got.to_list() == [1, 5]
    assert _repeated(pl.Series([3, 2, 1], dtype=pl.UInt64)).is_empty()


def test_packed_edge_counts_equal_one_bincount_per_column() -> None:
    """Several integer columns summed per edge in one packed bincount: exact, including
    nulls, a negative column (own bincount) and a column too wide to share a weight."""
    from graphkit.graph.build import _edge_counts

    rng = np.random.default_rng(5)
    n, m = 20_000, 300
    edge = np.sort(rng.integers(0, m, n))
    terms = pl.DataFrame(
        {
            "flag": rng.integers(0, 2, n),
            "rating": pl.Series(rng.integers(1, 6, n)).scatter([0, 7, 9], None),
            "neg": rng.integers(-3, 4, n),
            "wide": rng.integers(0, 2**30, n),
            "dsr": rng.integers(1, 6, n),
        }
    )
    got = _edge_counts(edge, m, terms)
    assert list(got) == terms.columns
    for name in terms.columns:
        want = np.bincount(edge, weights=terms[name].fill_null(0).to_numpy(), minlength=m)
        np.testing.assert_array_equal(got[name].to_numpy(), want.astype(np.int64))


def test_packed_edge_counts_with_given_bounds() -> None:
    """Bounds given per term (exact, looser, or a negative low that forces a bincount of its
    own) give the same exact sums as bounds measured on the frame."""
    from graphkit.graph.build import _edge_counts

    rng = np.random.default_rng(8)
    n, m = 5_000, 97
    edge = rng.integers(0, m, n)
    terms = pl.DataFrame(
        {
            "flag": rng.integers(0, 2, n),
            "rating": pl.Series(rng.integers(1, 6, n)).scatter([3, 4], None),
            "dsr": rng.integers(1, 6, n),
        }
    )
    want = _edge_counts(edge, m, terms)
    for bounds in (
        {"flag": (0, 1), "rating": (0, 5), "dsr": (1, 5)},
        {"flag": (0, 1), "rating": (0, 1000)},  # looser, and dsr measured
        {"rating": (-5, 5)},  # a negative low: rating gets its own bincount
    ):
        got = _edge_counts(edge, m, terms, bounds=bounds)
        assert list(got) == list(want)
        for name in want:
            assert got[name].equals(want[name])


def test_vid_of_equals_the_vertex_join(tiny: dict[str, pl.DataFrame]) -> None:
    """vid_of: known ids get their vid in the given order, unknown and null ids null; the same
    with the hash index forced off (the collision fallback joins the strings)."""
    mg = build_market_graph(dataset_from_frames(tiny))
    ids = pl.Series(["s2", "nobody", "b1", None, "b1", "s"], dtype=pl.String)
    want = [4, None, 0, None, 0, None]
    assert mg.vid_of(ids).to_list() == want
    assert mg.vid_of(ids).dtype == pl.Int64
    assert mg.vid_of(pl.Series([], dtype=pl.String)).to_list() == []
    fallback = build_market_graph(dataset_from_frames(tiny))
    fallback.__dict__["_id_index"] = None  # as after a 64-bit hash collision
    assert fallback.vid_of(ids).to_list() == want
