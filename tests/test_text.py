from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphkit.detect.text import (
    estimated_jaccard,
    minhash_signatures,
    near_duplicate_clusters,
    normalize_for_similarity,
)

TEMPLATE = (
    "Hi {name}! Huge sale in my store today: designer watches from ${price}, visit shop-{code}"
)
NAMES = ["Anna", "Bob", "Chen", "Dara", "Eli", "Femi", "Gus", "Hana", "Ivo", "Jo"]


def _frame(texts: list[str | None], **extra: list[str]) -> pl.DataFrame:
    return pl.DataFrame(
        {"message_id": [f"m{i:03d}" for i in range(len(texts))], "text": texts, **extra},
        schema_overrides={"text": pl.String},
    )


def _shingles(text: str, k: int = 5) -> set[str]:
    norm = pl.select(normalize_for_similarity(pl.lit(text))).item()
    return {norm[i : i + k] for i in range(max(len(norm) - k + 1, 1))}


def test_small_edits_cluster_together_and_other_texts_do_not() -> None:
    spam = [TEMPLATE.format(name=n, price=10 + i, code=100 + i) for i, n in enumerate(NAMES)]
    spam[3] = spam[3].upper()  # shouting
    spam[4] = spam[4].replace("designer", "desginer")  # typo
    spam[5] = "<b>" + spam[5] + "</b> 🔥🔥"  # markup + emoji
    spam[6] = spam[6].replace("Huge", "Ｈｕｇｅ")  # full-width letters
    spam[7] = spam[7].replace("visit", "please visit")  # inserted word
    others = [
        "Where is my parcel? It has been three weeks.",
        "Hi Anna! Your order has shipped, tracking number follows.",
        "Do you have this jacket in size M?",
    ]
    out = near_duplicate_clusters(_frame(spam + others))
    clusters = out["cluster_id"].to_list()
    assert clusters[: len(spam)] == ["m000"] * len(spam)
    assert clusters[len(spam) :] == ["m010", "m011", "m012"]
    assert out["cluster_size"].to_list() == [10] * 10 + [1, 1, 1]
    assert out["cluster_variants"][0] == 10


def test_shared_greeting_alone_is_not_a_near_duplicate() -> None:
    texts = [
        "Hello dear friend, thank you for your order of the red kettle, it ships Monday.",
        "Hello dear friend, my package never arrived and I would like to know why please.",
    ]
    out = near_duplicate_clusters(_frame(texts))
    assert out["cluster_id"].to_list() == ["m000", "m001"]


def test_by_keeps_clusters_inside_each_group() -> None:
    text = "Visit my store for amazing deals on phone cases today"
    df = _frame([text, text + "!", text, text], sender_id=["s1", "s1", "s2", "s2"])
    assert near_duplicate_clusters(df, by="sender_id")["cluster_id"].to_list() == [
        "m000",
        "m000",
        "m002",
        "m002",
    ]
    assert near_duplicate_clusters(df)["cluster_id"].to_list() == ["m000"] * 4


def test_empty_and_null_texts_have_no_cluster() -> None:
    out = near_duplicate_clusters(_frame(["", None, "  !! ", "ok"]))
    assert out["cluster_id"].to_list() == [None, None, None, "m003"]
    assert out["cluster_size"].to_list() == [None, None, None, 1]
    assert out.schema["cluster_size"] == pl.Int64


def test_all_empty_input_returns_typed_frame() -> None:
    out = near_duplicate_clusters(_frame([None, ""]))
    assert out.height == 2
    assert out.schema["cluster_id"] == pl.String
    assert out["cluster_id"].null_count() == 2


def test_order_independent_and_reproducible() -> None:
    rng = np.random.default_rng(3)
    texts = [
        TEMPLATE.format(name=NAMES[i % 10], price=int(rng.integers(5, 99)), code=i)
        if i % 3
        else f"question {i} about item {rng.integers(1000)} colour and size options"
        for i in range(120)
    ]
    df = _frame(texts)
    a = near_duplicate_clusters(df, seed=1)
    b = near_duplicate_clusters(df.sample(fraction=1.0, shuffle=True, seed=9).lazy(), seed=1)
    assert a.equals(b)
    assert a["message_id"].is_sorted()


def test_minhash_estimates_jaccard() -> None:
    a = "the quick brown fox jumps over the lazy dog near the river bank"
    b = "the quick brown fox jumped over a lazy dog near the river banks"
    c = "completely unrelated sentence about shipping times and customs"
    norm = pl.Series([a, b, c]).to_frame("t").select(normalize_for_similarity(pl.col("t")))
    sig = minhash_signatures(norm.to_series(), num_perm=256, seed=4)
    assert sig.shape == (3, 256)
    assert sig.dtype == np.uint32
    sa, sb = _shingles(a), _shingles(b)
    true_ab = len(sa & sb) / len(sa | sb)
    est = estimated_jaccard(sig, np.array([0, 0]), np.array([1, 2]))
    assert abs(est[0] - true_ab) < 0.1
    assert est[1] < 0.1


def test_threshold_separates_pairs() -> None:
    a = "limited offer cheap sunglasses and watches, message me for the catalogue now"
    b = "limited offer cheap sunglasses and handbags, message me for the price list now"
    sim = len(_shingles(a) & _shingles(b)) / len(_shingles(a) | _shingles(b))
    assert 0.3 < sim < 0.8  # a mid-similarity pair: the threshold decides
    strict = near_duplicate_clusters(_frame([a, b]), threshold=min(0.95, sim + 0.25))
    loose = near_duplicate_clusters(_frame([a, b]), threshold=max(0.05, sim - 0.25), bands=32)
    assert strict["cluster_id"].to_list() == ["m000", "m001"]
    assert loose["cluster_id"].to_list() == ["m000", "m000"]


def test_large_bucket_is_linked_without_quadratic_pairs() -> None:
    n = 3000
    rng = np.random.default_rng(0)
    texts = [
        TEMPLATE.format(name=f"user{i}", price=i % 50, code=rng.integers(10**6)) for i in range(n)
    ]
    out = near_duplicate_clusters(_frame(texts))
    assert out["cluster_id"].n_unique() == 1
    assert out["cluster_size"][0] == n


def test_bands_must_divide_num_perm() -> None:
    with pytest.raises(ValueError, match="bands must divide"):
        near_duplicate_clusters(_frame(["a"]), num_perm=64, bands=10)


def test_normalize_for_similarity() -> None:
    got = pl.select(normalize_for_similarity(pl.lit("<i>Ｃafé</i> №5 — 20% OFF!!"))).item()
    assert got == "cafe no0 00 off"
