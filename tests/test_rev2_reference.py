"""REV2 gives, bit for bit, what the plain formulas give.

:func:`graphkit.detect.rev2.rev2` runs its iterations in preallocated buffers, gathers in
``mode="wrap"``, precomputes the constant denominators and takes the largest change as
``max(max x, -min x)``: all for speed, none may change a bit. The reference here is the
straightforward loop (fresh arrays, default gathers, ``abs().max()``).
"""

from __future__ import annotations

import numpy as np
import polars as pl
import pytest

from graphkit.detect.rating_params import RatingParams
from graphkit.detect.rev2 import dense_ids, rev2


def _reference(edges: pl.DataFrame, p: RatingParams) -> tuple[np.ndarray, ...]:
    """REV2 as the formulas read: fairness, goodness, reliability and the iterations run."""
    u, t = dense_ids(edges["author_id"]).ids, dense_ids(edges["target_id"]).ids
    s, an = edges["score"].to_numpy(), edges["anomaly"].to_numpy()
    n_u, n_t = int(u.max()) + 1, int(t.max()) + 1
    deg_u = np.bincount(u, minlength=n_u).astype(np.float64)
    deg_t = np.bincount(t, minlength=n_t).astype(np.float64)
    ibs = np.bincount(u, weights=an, minlength=n_u) / np.maximum(deg_u, 1.0)
    a1, a2, b = p.rev2_alpha_fairness, p.rev2_alpha_behavior, p.rev2_beta_goodness
    g1, g2 = p.rev2_gamma_fairness, p.rev2_gamma_agreement
    f, g, r = np.ones(n_u), np.ones(n_t), np.ones(len(u))
    it = 0
    for it in range(1, p.rev2_iterations + 1):  # noqa: B007
        g_new = (b * g.mean() + np.bincount(t, weights=r * s, minlength=n_t)) / (b + deg_t)
        g_new = np.clip(g_new, -1.0, 1.0)
        agree = 1.0 - np.abs(s - g_new[t]) / 2.0
        fu = f[u]
        if g1 != 1.0:
            fu = g1 * fu
        if g2 != 1.0:
            agree = g2 * agree
        r_new = (fu + agree) / (g1 + g2)
        f_new = (
            a1 * f.mean() + a2 * (1.0 - ibs) + np.bincount(u, weights=r_new, minlength=n_u)
        ) / (a1 + a2 + deg_u)
        delta = max(
            float(np.abs(g_new - g).max()),
            float(np.abs(r_new - r).max()),
            float(np.abs(f_new - f).max()),
        )
        f, g, r = f_new, g_new, r_new
        if delta < p.rev2_tolerance:
            break
    return f, g, r, np.array([it])


def _random_edges(seed: int, n: int = 3000) -> pl.DataFrame:
    rng = np.random.default_rng(seed)
    stars = rng.integers(1, 6, size=(n, 4))
    return pl.DataFrame(
        {
            "feedback_id": [f"f{i}" for i in range(n)],
            "author_id": [f"u{x}" for x in rng.zipf(1.6, n) % 700],
            "target_id": [f"s{x}" for x in rng.zipf(1.3, n) % 60],
            "score": (stars.mean(axis=1) - 3.0) / 2.0,
            "anomaly": rng.choice([0.0, 0.5, 1.0], size=n, p=[0.8, 0.15, 0.05]),
        }
    )


@pytest.mark.parametrize(
    ("seed", "g_fair", "g_agree", "alpha"), [(0, 1.0, 1.0, 1.0), (1, 2.0, 0.5, 3.0)]
)
def test_rev2_is_bit_identical_to_the_plain_formulas(
    seed: int, g_fair: float, g_agree: float, alpha: float
) -> None:
    p = RatingParams(
        rev2_gamma_fairness=g_fair, rev2_gamma_agreement=g_agree, rev2_alpha_fairness=alpha
    )
    edges = _random_edges(seed)
    f, g, r, it = _reference(edges, p)
    res = rev2(edges, params=p)
    assert res.iterations == int(it[0])
    assert 3 < res.iterations <= p.rev2_iterations
    assert np.array_equal(res.fairness["fairness"].to_numpy(), f)
    order = np.argsort(edges["target_id"].unique(maintain_order=True).to_numpy(), kind="stable")
    assert np.array_equal(res.goodness["goodness"].to_numpy(), g[order])
    assert np.array_equal(res.reliability["reliability"].to_numpy(), r)


def test_given_rater_targets_give_the_same_result_and_must_fit_the_raters() -> None:
    edges = _random_edges(2, n=500)
    own = rev2(edges)
    ids = dense_ids(edges["author_id"])
    pairs = edges.select("author_id", "target_id").unique()
    counts = dict(pairs.group_by("author_id").len().iter_rows())
    first = edges["author_id"].gather(ids.first).to_list()
    given = rev2(edges, rater_ids=ids, rater_targets=np.array([counts[a] for a in first]))
    assert given.fairness.equals(own.fairness)
    assert own.fairness["n_targets"].to_list() == [counts[a] for a in first]
    with pytest.raises(ValueError, match="rater_targets"):
        rev2(edges, rater_targets=np.array([1, 2]))
