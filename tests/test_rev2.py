"""REV2 fairness / goodness / reliability on small rating graphs with known answers."""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_frame_equal

from graphkit.detect.rating_params import RatingParams
from graphkit.detect.rev2 import dense_ids, rev2


def _edges(
    rows: list[tuple[str, str, float]], anomaly: dict[str, float] | None = None
) -> pl.DataFrame:
    anomaly = anomaly or {}
    return pl.DataFrame(
        {
            "feedback_id": [f"f{i:03d}" for i in range(len(rows))],
            "author_id": [a for a, _, _ in rows],
            "target_id": [t for _, t, _ in rows],
            "score": [s for _, _, s in rows],
            "anomaly": [anomaly.get(a, 0.0) for a, _, _ in rows],
        }
    )


def _consensus() -> list[tuple[str, str, float]]:
    """Five honest raters agree: g is good, m is middling, b is bad; the contrarian 'x' inverts."""
    truth = {"g": 1.0, "m": 0.0, "b": -1.0}
    rows = [(f"u{k}", s, v) for k in range(5) for s, v in truth.items()]
    rows += [("x", s, -v if v else 1.0) for s, v in truth.items()]
    return rows


def test_goodness_orders_sellers_and_contrarian_is_least_fair() -> None:
    res = rev2(_edges(_consensus()))
    good = dict(res.goodness.select("seller_id", "goodness").iter_rows())
    assert good["g"] > good["m"] > good["b"]
    assert all(-1.0 <= v <= 1.0 for v in good.values())
    fair = dict(res.fairness.select("account_id", "fairness").iter_rows())
    assert min(fair, key=fair.__getitem__) == "x"
    assert fair["x"] < min(fair[f"u{k}"] for k in range(5)) - 0.1
    rel = res.reliability.join(_edges(_consensus()), on="feedback_id")
    worst = rel.sort("reliability").head(3)["author_id"].to_list()
    assert worst == ["x", "x", "x"]
    assert res.converged
    assert res.iterations < RatingParams().rev2_iterations


@pytest.mark.parametrize(("g_fair", "g_agree"), [(1.0, 1.0), (2.0, 0.5)])
def test_result_satisfies_the_rev2_fixed_point_equations(g_fair: float, g_agree: float) -> None:
    p = RatingParams(
        rev2_tolerance=1e-10,
        rev2_iterations=500,
        rev2_gamma_fairness=g_fair,
        rev2_gamma_agreement=g_agree,
    )
    edges = _edges(_consensus(), anomaly={"u0": 1.0})
    res = rev2(edges, params=p)
    e = (
        edges.join(res.reliability, on="feedback_id")
        .join(
            res.fairness.select("account_id", "fairness", "anomaly"),
            left_on="author_id",
            right_on="account_id",
        )
        .join(
            res.goodness.select("seller_id", "goodness"), left_on="target_id", right_on="seller_id"
        )
    )
    mu_f = res.fairness["fairness"].mean()
    mu_g = res.goodness["goodness"].mean()
    # reliability of each rating
    expected_r = (
        p.rev2_gamma_fairness * e["fairness"]
        + p.rev2_gamma_agreement * (1 - (e["score"] - e["goodness"]).abs() / 2)
    ) / (p.rev2_gamma_fairness + p.rev2_gamma_agreement)
    assert np.allclose(e["reliability"].to_numpy(), expected_r.to_numpy(), atol=1e-5)
    # goodness of each seller
    g = e.group_by("target_id").agg(
        (
            (p.rev2_beta_goodness * mu_g + (pl.col("reliability") * pl.col("score")).sum())
            / (p.rev2_beta_goodness + pl.len())
        ).alias("g"),
        pl.col("goodness").first(),
    )
    assert np.allclose(g["g"].to_numpy(), g["goodness"].to_numpy(), atol=1e-5)
    # fairness of each rater, with the behavioural prior
    a1, a2 = p.rev2_alpha_fairness, p.rev2_alpha_behavior
    f = e.group_by("author_id").agg(
        (
            (a1 * mu_f + a2 * (1 - pl.col("anomaly").first()) + pl.col("reliability").sum())
            / (a1 + a2 + pl.len())
        ).alias("f"),
        pl.col("fairness").first(),
    )
    assert np.allclose(f["f"].to_numpy(), f["fairness"].to_numpy(), atol=1e-5)


def test_behavioural_anomaly_lowers_fairness_and_reliability() -> None:
    plain = rev2(_edges(_consensus()))
    flagged = rev2(_edges(_consensus(), anomaly={"u0": 1.0}))
    f0 = dict(plain.fairness.select("account_id", "fairness").iter_rows())
    f1 = dict(flagged.fairness.select("account_id", "fairness").iter_rows())
    assert f1["u0"] < f0["u0"] - 0.2
    assert f1["u0"] < f1["u1"]
    a = flagged.fairness.filter(pl.col("account_id") == "u0")["anomaly"].item()
    assert a == 1.0


def test_single_rating_is_fully_reliable_and_empty_graph_is_empty() -> None:
    one = rev2(_edges([("a", "s", 1.0)]))
    assert one.reliability["reliability"].item() == pytest.approx(1.0)
    assert one.goodness["goodness"].item() == pytest.approx(1.0)
    empty = rev2(
        _edges([]).cast(
            {
                "score": pl.Float64,
                "anomaly": pl.Float64,
                "author_id": pl.String,
                "target_id": pl.String,
                "feedback_id": pl.String,
            }
        )
    )
    assert empty.fairness.height == 0
    assert empty.reliability.height == 0
    assert empty.converged


def test_deterministic_and_row_order_only_moves_rows() -> None:
    edges = _edges(_consensus(), anomaly={"u2": 0.5})
    a, b = rev2(edges), rev2(edges)
    assert a.fairness.equals(b.fairness)
    assert a.goodness.equals(b.goodness)
    assert a.reliability.equals(b.reliability)
    c = rev2(edges.sample(fraction=1.0, shuffle=True, seed=3))
    assert_frame_equal(a.fairness.sort("account_id"), c.fairness.sort("account_id"), abs_tol=1e-12)
    assert_frame_equal(a.goodness, c.goodness, abs_tol=1e-12)
    assert_frame_equal(
        a.reliability.sort("feedback_id"), c.reliability.sort("feedback_id"), abs_tol=1e-12
    )


def test_dense_ids_number_values_by_first_appearance() -> None:
    d = dense_ids(pl.Series(["s", "a", "s", "b", "a"]))
    assert d.ids.tolist() == [0, 1, 0, 2, 1]
    assert d.first.tolist() == [0, 1, 3]
    assert dense_ids(pl.Series([], dtype=pl.String)).ids.tolist() == []


def test_given_dense_ids_give_the_same_result_and_must_fit_the_edges() -> None:
    edges = _edges(_consensus(), anomaly={"u2": 0.5})
    own = rev2(edges)
    given = rev2(
        edges,
        rater_ids=dense_ids(edges["author_id"]),
        target_ids=dense_ids(edges["target_id"]),
    )
    for a, b in zip(
        (own.fairness, own.goodness, own.reliability),
        (given.fairness, given.goodness, given.reliability),
        strict=True,
    ):
        assert a.equals(b)
    with pytest.raises(ValueError, match="rater_ids/target_ids"):
        rev2(edges, rater_ids=dense_ids(edges["author_id"].head(3)))
