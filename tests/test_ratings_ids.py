"""The rating signals' integer-id paths give what the string paths give.

``rating_base`` carries dense integer ids of raters and sellers and the per-seller counts
that need no detection result; ``rating_signals`` then flags group, link and trading rows
on the ids and counts only the few flagged or unreliable ratings. A base without the ids
and counts takes the string paths; both must give the same tables, and each path must give
the known answers on hand-built markets.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import polars as pl
import pytest
from polars.testing import assert_frame_equal
from test_ratings import T0, Market, _groups, _honest_background, _links
from test_ratings_base import _shuffled_market

from graphkit.detect.rating_features import (
    COUNT_COLUMNS,
    add_group_counts,
    add_reliable_counts,
    base_flags,
    buyer_rows,
    flag_feedback,
    group_flags,
    in_burst_flag,
    reliable_counts,
    seller_base_counts,
    seller_bursts,
    seller_counts,
    seller_origins,
)
from graphkit.detect.rating_params import RatingParams
from graphkit.detect.ratings import rating_base, rating_signals

TABLES = ("sellers", "raters", "feedback", "trading_pairs")


def _rich_market() -> tuple[Market, pl.DataFrame, pl.DataFrame, dict[str, set[str]]]:
    """Groups, links, trades, refunds and null DSRs, with the expected flagged ids."""
    m = Market()
    _honest_background(m)
    for s in ("A", "B", "s", "t"):
        m.honest(s, 20)
    expect: dict[str, set[str]] = {"group": set(), "any_group": set(), "linked": set()}
    for k in range(4):  # a ring around s
        fid = m.rate(f"ring{k}", "s", 5, day=40 + k)
        expect["group"].add(fid)
        expect["any_group"].add(fid)
    near = m.rate("ring0", "t", 5, day=45)  # a ring member rating another store: any group only
    expect["any_group"].add(near)
    sock = m.rate("sock", "s", 5, day=46, dsr=(5, None, 5))  # linked, DSRs incomplete
    expect["linked"].add(sock)
    m.rate("sock", "t", 5, day=47)  # the sock rating a store it is not linked to: a near miss
    back = m.rate("t_alias", "t", 4, day=48)  # linked with the store as account_a
    expect["linked"].add(back)
    ab = m.rate("a1", "B", 5, day=30)  # a1 (A's account) and b1 (B's) trade
    ba = m.rate("b1", "A", 5, day=31)
    expect["traded"] = {ab, ba}
    m.rate("b1", "t", 1, day=32)  # tied, but negative: never traded
    m.rate("refunded", "s", 5, day=33, refund=(1.0, 2.0))
    m.seller_rates_buyer(3)
    groups = _groups({"G1": [f"ring{k}" for k in range(4)] + ["s"], "G2": ["ring0", "x"]})
    links = _links(("sock", "s"), ("t", "t_alias"), ("a1", "A"), ("b1", "B"), ("zz", "s"))
    return m, groups, links, expect


def _string_paths(base):  # type: ignore[no-untyped-def]
    """The same base without its integer ids and counts: the string paths are taken."""
    return dataclasses.replace(
        base,
        author_ids=None,
        target_ids=None,
        counts=None,
        rater_targets=None,
        order_sellers=None,
    )


def test_integer_paths_give_the_signals_of_the_string_paths() -> None:
    m, groups, links, expect = _rich_market()
    ds = m.dataset()
    base = rating_base(ds)
    assert base.counts is not None
    # G1 scores as a ring, G2 (a member of G1 and a non-store) does not: which members
    # are stores comes from the base's distinct order sellers, or from the orders
    scores = pl.DataFrame({"group_id": ["G1", "G2"], "score": [0.9, 0.1]})
    kw = {"group_members": groups, "identity_links": links, "groups": scores}
    fast = rating_signals(ds, base=base, **kw)
    plain = rating_signals(ds, base=_string_paths(base), **kw)
    for name in TABLES:
        assert_frame_equal(getattr(fast, name), getattr(plain, name))
    assert fast.population == pytest.approx(plain.population, nan_ok=True)
    fb = fast.feedback
    assert set(fb.filter("in_group_with_target")["feedback_id"]) == expect["group"]
    assert set(fb.filter("linked_to_target")["feedback_id"]) == expect["linked"]
    assert set(fb.filter("traded")["feedback_id"]) == expect["traded"]
    assert fast.trading_pairs["account_a"].to_list() == ["a1"]
    s = fast.sellers.filter(pl.col("seller_id") == "s").row(0, named=True)
    assert (s["n_top_group"], s["n_top_linked"], s["n_top_refunded"]) == (4, 1, 1)
    assert s["share_top_from_any_group"] * s["n_top"] == pytest.approx(4)
    t = fast.sellers.filter(pl.col("seller_id") == "t").row(0, named=True)
    assert (t["n_top_group"], t["n_top_linked"]) == (0, 0)
    assert t["share_top_from_any_group"] * t["n_top"] == pytest.approx(1)  # the near miss
    # without detection results both paths leave the group and link counts null
    bare = rating_signals(ds, base=base)
    assert_frame_equal(bare.sellers, rating_signals(ds, base=_string_paths(base)).sellers)
    assert bare.sellers["n_top_group"].null_count() == bare.sellers.height
    assert bare.sellers["n_top_linked"].null_count() == bare.sellers.height


def test_group_flags_on_ids_match_the_string_lookups_in_any_row_order() -> None:
    ds, expect = _shuffled_market()
    groups = _groups({"G1": ["ring0", "ring1", "ring2", "s"], "G2": ["sock", "other_store"]})
    links = _links(("s", "sock"), ("honest0", "elsewhere"))
    base = rating_base(ds)
    kw = {"group_members": groups, "identity_links": links}
    on_ids = group_flags(base.flags.lazy(), authors=base.authors, targets=base.targets, **kw)
    strings = group_flags(base.flags.lazy(), **kw)
    flags = ["in_group_with_target", "in_any_group", "linked_to_target"]
    a, b = on_ids.collect(), strings.collect()
    assert a.columns == b.columns
    assert_frame_equal(a, b)
    assert set(a.filter("in_group_with_target")["feedback_id"]) == {
        f for f, k in expect.items() if k == "group"
    }
    assert set(a.filter("linked_to_target")["feedback_id"]) == {
        f for f, k in expect.items() if k == "linked"
    }
    # and as flag_feedback computes them on the strings
    ref = flag_feedback(buyer_rows(ds).drop("_row").lazy(), ds, RatingParams(), **kw).collect()
    assert_frame_equal(a.select("feedback_id", *flags), ref.select("feedback_id", *flags))
    # no group members / links: null flags, as on the strings
    none = group_flags(base.flags.lazy(), authors=base.authors, targets=base.targets).collect()
    assert all(none[f].null_count() == none.height for f in flags)


def _flagged_frame() -> pl.DataFrame:
    """Per-rating flags for three sellers, with nulls where a flag is unknown."""
    n = 9
    return pl.DataFrame(
        {
            "_tid": [0, 0, 0, 1, 1, 1, 2, 2, 2],
            "target_id": ["s0"] * 3 + ["s1"] * 3 + ["s2"] * 3,
            "rating": [5, 5, 4, 5, 1, 5, 5, 5, 2],
            "dsr_item_as_described": [5, None, 4, 5, 1, 5, 5, 5, 2],
            "dsr_communication": [5, 5, 4, 5, 1, 5, None, 5, 2],
            "dsr_shipping_speed": [5, 5, 4, 5, 1, 5, 5, 5, None],
            "top": [True, True, False, True, False, True, True, True, False],
            "positive": [True, True, True, True, False, True, True, True, False],
            "from_new_account": [False, True, None, None, None, None, True, False, False],
            "refunded_after": [False] * 8 + [True],
            "repeat_rater": [True, False, False, True, True, True, False, False, False],
            "too_early": [False, True, False, False, False, False, True, False, False],
            "perfect_dsr": [True, None, False, True, False, True, None, True, None],
            "in_burst": [False] * 3 + [True] * 2 + [False] * 4,
            "traded": [True, False, False, False, False, True, False, False, False],
            # s1 has no group information at all (null on every rating): its count is null
            "in_group_with_target": [True, True, False, None, None, None, False, True, None],
            "in_any_group": [True, True, True, None, None, None, True, True, False],
            "linked_to_target": [False] * n,
        },
        schema_overrides={c: pl.Int8 for c in ("rating",)},
    )


def test_group_counts_added_to_the_base_counts_equal_the_seller_counts() -> None:
    fb = _flagged_frame()
    want = seller_counts(fb.lazy()).collect().sort("seller_id")
    assert want["n_top_group"].to_list() == [2, None, 1]  # s1: all null -> null
    base = seller_base_counts(fb.drop("traded", *[c for c in fb.columns if "group" in c]).lazy())
    got = add_group_counts(base.collect(), fb)
    assert got.columns == ["seller_id", "_tid", *COUNT_COLUMNS]
    assert_frame_equal(got.drop("_tid").sort("seller_id"), want)
    # every flag unknown (no detection results): null counts, as seller_counts gives them
    unknown = fb.with_columns(
        pl.lit(None, dtype=pl.Boolean).alias(c)
        for c in ("in_group_with_target", "in_any_group", "linked_to_target")
    )
    got = add_group_counts(base.collect(), unknown).drop("_tid").sort("seller_id")
    assert_frame_equal(got, seller_counts(unknown.lazy()).collect().sort("seller_id"))
    assert got["n_top_linked"].null_count() == 3
    # keyed by seller_id when there are no integer ids
    plain = seller_base_counts(fb.drop("_tid", "traded").lazy()).collect()
    got = add_group_counts(plain, fb.drop("_tid")).sort("seller_id")
    assert_frame_equal(got, want)


def test_reliable_counts_from_the_unreliable_rows_equal_the_full_count() -> None:
    fb = _flagged_frame().with_columns(
        # s1: every rating suspicious; s2: one null (not reliable either); s0: one suspicious
        suspicious=pl.Series([True, False, False, True, True, True, None, False, False])
    )
    counts = seller_counts(fb.lazy()).collect()
    want = counts.join(reliable_counts(fb.lazy()).collect(), on="seller_id", how="left")
    got = add_reliable_counts(counts, fb)
    assert got.columns == want.columns
    assert_frame_equal(got.sort("seller_id"), want.sort("seller_id"))
    s1 = got.filter(pl.col("seller_id") == "s1").row(0, named=True)
    assert (s1["n_suspicious"], s1["n_rating_reliable"], s1["sum_rating_reliable"]) == (3, 0, 0)
    s2 = got.filter(pl.col("seller_id") == "s2").row(0, named=True)
    assert (s2["n_suspicious"], s2["n_rating_reliable"], s2["sum_rating_reliable"]) == (0, 2, 7)
    # on the integer ids as well
    with_ids = seller_base_counts(fb.lazy()).collect()
    got = add_reliable_counts(add_group_counts(with_ids, fb), fb).drop("_tid")
    assert_frame_equal(got.sort("seller_id"), want.sort("seller_id"))


def test_base_counts_of_the_base_are_the_counts_of_its_flags() -> None:
    m, _, _, _ = _rich_market()
    ds = m.dataset()
    base = rating_base(ds)
    plain = base_flags(buyer_rows(ds).lazy(), ds, RatingParams()).collect()
    assert base.counts is not None
    assert base.counts["n_ratings"].sum() == plain.height
    assert base.authors is not None
    assert base.targets is not None
    assert base.authors.gather(base.flags["_uid"]).equals(base.flags["author_id"])
    assert base.targets.gather(base.flags["_tid"]).equals(base.flags["target_id"])
    assert base.targets.n_unique() == base.targets.len()
    assert base.order_sellers is not None
    assert sorted(base.order_sellers.to_list()) == sorted(m.sellers)


def test_in_burst_on_integer_keys_matches_the_string_join() -> None:
    from test_ratings import _burst_market

    m, ring = _burst_market(30)
    m.honest("t", 40, start=10.0)
    ds = m.dataset()
    p = RatingParams()
    base = rating_base(ds)
    flags = base.flags.drop("in_burst")
    origins = seller_origins(ds, p, sellers=base.targets)
    _, ends = seller_bursts(flags.lazy(), p, origins)
    ends = ends.collect()
    assert "_tid" in ends.columns
    on_ids = in_burst_flag(flags.lazy(), ends.lazy(), p).collect()
    strings = in_burst_flag(flags.drop("_tid").lazy(), ends.drop("_tid").lazy(), p).collect()
    assert on_ids["in_burst"].equals(strings["in_burst"])
    assert on_ids["in_burst"].equals(base.flags["in_burst"])
    assert set(on_ids.filter("in_burst")["feedback_id"]) == ring
    # a near miss: the same days at another seller are not in its burst
    assert not on_ids.filter(pl.col("target_id") == "t")["in_burst"].any()
    # origins carrying the integer seller ids: days matched on them, same bursts
    tids = pl.LazyFrame({"target_id": base.targets, "_tid": range(len(base.targets))})
    by_id = seller_bursts(flags.lazy(), p, origins.join(tids, on="target_id"))
    for a, b in zip(
        pl.collect_all(by_id),
        pl.collect_all([*seller_bursts(flags.lazy(), p, origins)]),
        strict=True,
    ):
        assert_frame_equal(
            a.sort("target_id", *a.columns[1:2]), b.sort("target_id", *b.columns[1:2])
        )
    sellers = pl.collect_all(by_id)[0]
    assert sellers.filter(pl.col("target_id") == "s")["burst_count"].item() == 30


def test_seller_origins_from_given_registration_times_match_the_accounts_join() -> None:
    m = Market()
    m.honest("s", 20)
    m.honest("t", 20, start=60.0)
    m.created["t"] = T0 + timedelta(days=55)  # registered inside the dataset
    ds = m.dataset()
    p = RatingParams()
    sellers = pl.Series(["t", "s", "nobody"])  # "nobody" has no account: null time
    created = pl.Series([T0 + timedelta(days=55), T0 - timedelta(days=365), None])
    given = seller_origins(ds, p, sellers=sellers, created=created).collect()
    joined = seller_origins(ds, p, sellers=sellers).collect()
    assert_frame_equal(given.sort("target_id"), joined.sort("target_id"))
    assert given.filter(pl.col("target_id") == "t")["new_seller"].item()
    assert not given.filter(pl.col("target_id") == "nobody")["new_seller"].item()
