"""The rating base: buyer feedback joined with its orders, and the per-feedback flags.

Rows must come out in the feedback table's order with each flag on its own row, whatever
the order of the orders table: the flags are looked up on key columns and put next to the
frame, so a lookup that moved rows would put flags on the wrong ratings.
"""

from __future__ import annotations

import random
from datetime import timedelta

import polars as pl
from test_ratings import T0, Market, _groups, _links

from graphkit.contract import DSR_COLUMNS
from graphkit.dataset import Dataset
from graphkit.detect.rating_features import buyer_feedback, buyer_rows, flag_feedback
from graphkit.detect.rating_params import RatingParams
from graphkit.graph.build import build_market_graph
from graphkit.io import dataset_from_frames


def _shuffled_market() -> tuple[Dataset, dict[str, str]]:
    """A market whose feedback and orders are in unrelated orders, with seller feedback.

    Returns the dataset and, per buyer feedback id, what it should be flagged with.
    """
    m = Market()
    expect: dict[str, str] = {}
    for k in range(12):
        expect[m.rate(f"honest{k}", "s", 5, day=k)] = "none"
    for k in range(3):
        expect[m.rate(f"ring{k}", "s", 5, day=20 + k)] = "group"
    expect[m.rate("sock", "s", 5, day=30)] = "linked"
    expect[m.rate("refunded", "s", 5, day=31, refund=(1.0, 2.0))] = "refunded"
    expect[m.rate("early_refund", "s", 5, day=32, refund=(1.0, -2.0))] = "none"
    expect[m.rate("half_refund", "s", 5, day=33, refund=(0.4, 2.0))] = "none"
    m.created["newbie"] = T0 + timedelta(days=30)  # 4 days old when it buys
    expect[m.rate("newbie", "s", 5, day=34)] = "new"
    for i in range(0, 20, 3):  # the seller rates some buyers back: never a buyer rating
        m.seller_rates_buyer(i)
    ds = m.dataset()
    rng = random.Random(7)
    fb = ds.feedback.collect()
    orders = ds.orders.collect()
    fb = fb[rng.sample(range(fb.height), fb.height)]
    orders = orders[rng.sample(range(orders.height), orders.height)]
    frames = {"feedback": fb, "orders": orders}
    for name in ("accounts", "refunds"):
        frames[name] = ds.table(name).collect()
    return dataset_from_frames(frames), expect


def test_buyer_rows_keep_feedback_order_and_skip_seller_feedback() -> None:
    ds, expect = _shuffled_market()
    fb = ds.feedback.collect()
    rows = buyer_rows(ds)
    buyer_ids = [f for f in fb["feedback_id"] if f in expect]
    assert rows["feedback_id"].to_list() == buyer_ids  # feedback order, sellers' rows gone
    assert rows["_row"].to_list() == [fb["feedback_id"].to_list().index(f) for f in buyer_ids]
    # every column next to its own feedback: the reference joins whole rows
    ref = fb.join(
        ds.orders.collect().select(
            "order_id",
            pl.col("buyer_id").alias("author_id"),
            pl.col("created_at").alias("order_created_at"),
            "paid_at",
            "amount",
        ),
        on=["order_id", "author_id"],
        maintain_order="left",
    ).select(
        "feedback_id",
        "order_id",
        "author_id",
        "target_id",
        "rating",
        *DSR_COLUMNS,
        "created_at",
        "order_created_at",
        "paid_at",
        "amount",
    )
    assert rows.drop("_row").equals(ref)
    assert buyer_feedback(ds).collect().equals(ref)


def test_flags_land_on_their_own_rows_in_feedback_order() -> None:
    ds, expect = _shuffled_market()
    groups = _groups({"G1": ["ring0", "ring1", "ring2", "s"], "G2": ["sock", "other_store"]})
    links = _links(("s", "sock"), ("honest0", "elsewhere"))
    out = flag_feedback(
        buyer_feedback(ds), ds, RatingParams(), group_members=groups, identity_links=links
    ).collect()
    ids = out["feedback_id"].to_list()
    assert ids == [f for f in ds.feedback.collect()["feedback_id"] if f in expect]
    for flag, kind in (
        ("in_group_with_target", "group"),
        ("linked_to_target", "linked"),
        ("refunded_after", "refunded"),
        ("from_new_account", "new"),
    ):
        hit = set(out.filter(pl.col(flag))["feedback_id"])
        assert hit == {f for f, k in expect.items() if k == kind}, flag
    # in_any_group: the ring's and the sock's ratings (the sock's group has no "s")
    any_group = set(out.filter(pl.col("in_any_group"))["feedback_id"])
    assert any_group == {f for f, k in expect.items() if k in ("group", "linked")}
    assert "_row" not in out.columns


def test_repeat_raters_counted_on_dense_ids_as_on_the_strings() -> None:
    from graphkit.detect.rating_features import base_flags
    from graphkit.detect.ratings import rating_base

    m = Market()
    rep = [m.rate("rep", "s", 5, day=k) for k in range(3)]  # 3 ratings of s: repeat
    other = m.rate("rep", "t", 5, day=4)  # the same buyer once for t: not
    two = [m.rate("two", "s", 5, day=k) for k in range(2)]  # 2 ratings: a near miss
    ds = m.dataset()
    base = rating_base(ds)
    flagged = set(base.flags.filter("repeat_rater")["feedback_id"])
    assert flagged == set(rep)
    assert other not in flagged
    assert not flagged & set(two)
    plain = base_flags(buyer_rows(ds).lazy(), ds, RatingParams()).collect()
    assert plain["repeat_rater"].equals(base.flags["repeat_rater"])
    assert base.flags["_uid"].to_list() == base.author_ids.ids.tolist()
    assert base.flags["_tid"].to_list() == [0, 0, 0, 1, 0, 0]


def test_lookups_stay_exact_when_every_key_hash_collides(monkeypatch) -> None:
    import graphkit.detect.rating_features as rf

    ds, expect = _shuffled_market()
    groups = _groups({"G1": ["ring0", "ring1", "ring2", "s"], "G2": ["sock", "other_store"]})
    links = _links(("s", "sock"), ("honest0", "elsewhere"))

    def flags() -> pl.DataFrame:
        return flag_feedback(
            buyer_feedback(ds), ds, RatingParams(), group_members=groups, identity_links=links
        ).collect()

    honest = flags()
    monkeypatch.setattr(rf, "_key_hash", lambda keys: pl.lit(0, dtype=pl.UInt64))
    collided = flags()
    assert collided.equals(honest)
    assert set(collided.filter("linked_to_target")["feedback_id"]) == {
        f for f, k in expect.items() if k == "linked"
    }


def _reference_rows(ds: Dataset) -> pl.DataFrame:
    """Whole feedback rows joined with their orders in one in-memory join (the plain formula)."""
    orders = ds.orders.collect().select(
        "order_id",
        pl.col("buyer_id").alias("author_id"),
        pl.col("created_at").alias("order_created_at"),
        "paid_at",
        "amount",
    )
    return (
        ds.feedback.collect()
        .select("feedback_id", "order_id", "author_id", "target_id", "rating", *DSR_COLUMNS)
        .with_columns(ds.feedback.collect().get_column("created_at"))
        .with_row_index("_row")
        .join(orders, on=["order_id", "author_id"], maintain_order="left")
    )


def test_buyer_rows_equal_the_whole_row_join_on_parquet(tmp_path) -> None:
    """Keys joined first, then the feedback columns gathered: the same rows as one join.

    A random market read lazily from parquet (as a large scan reads it), with feedback by
    buyers (kept), by sellers and on unknown orders (dropped: the near misses), a feedback
    whose author is the buyer of *another* order (dropped) and unpaid orders.
    """
    rng = random.Random(11)
    n_orders, n_fb = 400, 700
    buyers = [f"b{rng.randrange(60)}" for _ in range(n_orders)]
    sellers = [f"s{rng.randrange(15)}" for _ in range(n_orders)]
    orders = pl.DataFrame(
        {
            "order_id": [f"o{i}" for i in range(n_orders)],
            "buyer_id": buyers,
            "seller_id": sellers,
            "amount": [float(rng.randrange(1, 500)) for _ in range(n_orders)],
            "created_at": [T0 + timedelta(hours=i) for i in range(n_orders)],
            "paid_at": [
                None if i % 7 == 0 else T0 + timedelta(hours=i, minutes=5) for i in range(n_orders)
            ],
        }
    )
    picks = [rng.randrange(n_orders + 40) for _ in range(n_fb)]  # >= n_orders: unknown order
    kinds = [rng.choice(("buyer", "buyer", "seller", "other")) for _ in range(n_fb)]

    def author(o: int, kind: str) -> str:
        if o >= n_orders or kind == "buyer":
            return buyers[o % n_orders]
        return sellers[o] if kind == "seller" else buyers[(o + 1) % n_orders] + "x"

    fb = pl.DataFrame(
        {
            "feedback_id": [f"f{i}" for i in range(n_fb)],
            "order_id": [f"o{o}" for o in picks],
            "author_id": [author(o, k) for o, k in zip(picks, kinds, strict=True)],
            "target_id": [
                sellers[o % n_orders] if k != "seller" else buyers[o % n_orders]
                for o, k in zip(picks, kinds, strict=True)
            ],
            "rating": pl.Series([rng.randrange(1, 6) for _ in range(n_fb)], dtype=pl.Int8),
            **{
                c: pl.Series([rng.choice((None, 3, 5)) for _ in range(n_fb)], dtype=pl.Int8)
                for c in DSR_COLUMNS
            },
            "created_at": [T0 + timedelta(days=30, minutes=i) for i in range(n_fb)],
        }
    )
    orders.write_parquet(tmp_path / "orders.parquet", row_group_size=64)
    fb.write_parquet(tmp_path / "feedback.parquet", row_group_size=64)
    ds = Dataset(
        {
            "orders": pl.scan_parquet(tmp_path / "orders.parquet"),
            "feedback": pl.scan_parquet(tmp_path / "feedback.parquet"),
        },
        as_of=T0 + timedelta(days=60),
    )
    rows = buyer_rows(ds)
    ref = _reference_rows(ds)
    assert 0 < rows.height < n_fb  # some rows kept, some dropped
    assert rows.equals(ref)
    assert rows.get_column("_row").flags["SORTED_ASC"]
    # the market graph's match of feedback to orders gives the same rows
    assert buyer_rows(ds, build_market_graph(ds).buyer_feedback).equals(ref)
    # a feedback by the order's seller, or by someone who is not its buyer, is not a buyer row
    kept = set(rows.get_column("_row").to_list())
    for i, (o, k) in enumerate(zip(picks, kinds, strict=True)):
        assert (i in kept) == (o < n_orders and k == "buyer")


def test_buyer_rows_of_no_buyer_feedback_is_empty_with_the_columns() -> None:
    ds, _ = _shuffled_market()
    only_sellers = ds.feedback.join(
        ds.orders.select("order_id", pl.col("seller_id").alias("author_id")),
        on=["order_id", "author_id"],
        how="semi",
    )
    empty = Dataset({"orders": ds.orders, "feedback": only_sellers}, as_of=ds.as_of)
    rows = buyer_rows(empty)
    assert rows.height == 0
    assert rows.schema == buyer_rows(ds).schema
    matched = buyer_rows(empty, build_market_graph(empty).buyer_feedback)
    assert matched.height == 0
    assert matched.schema == rows.schema
