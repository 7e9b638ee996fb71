"""REV2: fairness of raters, goodness of sellers, reliability of ratings (vectorised).

Kumar et al., "REV2: Fraudulent User Prediction in Rating Platforms",
WSDM 2018. The three quantities are defined in terms of each other and
computed jointly by fixed-point iteration:

- goodness ``G(p) = (b mu_G + sum_e R(e) s(e)) / (b + indeg(p))`` in [-1, 1],
- reliability ``R(e) = (g1 F(u) + g2 (1 - |s(e) - G(p)| / 2)) / (g1 + g2)`` in [0, 1],
- fairness ``F(u) = (a1 mu_F + a2 (1 - anomaly(u)) + sum_e R(e)) / (a1 + a2 + outdeg(u))``
  in [0, 1],

where ``s(e)`` is the rating scaled to [-1, 1]. Priors (REV2's cold-start
smoothing): ``mu_F`` and ``mu_G`` are the current mean fairness and goodness,
with pseudo-counts ``a1`` and ``b``; ``anomaly(u)`` in [0, 1] is the rater's
behavioural anomaly (REV2's BIRDNEST-based "IBS" term; here the mean of the
per-rating anomaly given on the edges), with pseudo-count ``a2``. Everything
starts at 1 (REV2's initialisation). Each iteration is three
``numpy.bincount`` passes over dense integer ids, so 6M ratings take a few
hundred milliseconds per iteration.

Examples
--------
>>> import polars as pl
>>> edges = pl.DataFrame({
...     "feedback_id": ["f1", "f2", "f3"], "author_id": ["a", "b", "c"],
...     "target_id": ["s", "s", "s"], "score": [1.0, 1.0, -1.0]})
>>> res = rev2(edges)
>>> res.fairness.sort("fairness")["account_id"].to_list()[0]
'c'
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from graphkit.detect.rating_params import RatingParams

__all__ = ["DenseIds", "Rev2Result", "dense_ids", "rev2"]


@dataclass(frozen=True)
class Rev2Result:
    """The output of :func:`rev2`.

    Attributes
    ----------
    fairness
        ``account_id, fairness, anomaly, n_ratings, n_targets`` (distinct accounts
        rated), ``mean_reliability`` and the requested ``n_<column>`` totals per
        rater, in the order of the rater's first rating.
    goodness
        ``seller_id, goodness, n_ratings`` per rated account, sorted by ``seller_id``.
    reliability
        ``feedback_id, reliability`` per rating, in the input order.
    iterations
        Iterations run.
    converged
        Whether the largest change of the last iteration was below the tolerance.
    """

    fairness: pl.DataFrame
    goodness: pl.DataFrame
    reliability: pl.DataFrame
    iterations: int
    converged: bool


@dataclass(frozen=True)
class DenseIds:
    """Dense integer ids of a column's values, numbered by first appearance.

    Attributes
    ----------
    ids
        Per row, the id of its value (Int64 array, ``0 .. n - 1``).
    first
        Per id, the row where its value first appears (Int64 array).
    """

    ids: np.ndarray
    first: np.ndarray


def dense_ids(values: pl.Series) -> DenseIds:
    """Dense ids numbered by first appearance, and the first row of each id.

    Rows are grouped by a 64-bit hash of the string (cheap, multi-threaded);
    the grouping is then checked exactly (every row equals the first row of its
    group), falling back to grouping the strings themselves on a collision.
    Numbering by first appearance makes the ids, and every float sum over them,
    independent of the hash values.

    Examples
    --------
    >>> d = dense_ids(pl.Series(["b", "a", "b"]))
    >>> d.ids.tolist(), d.first.tolist()
    ([0, 1, 0], [0, 1])
    """
    for key in (values.hash(seed=0), values):
        first = key.arg_unique()
        ids = (
            pl.DataFrame({"k": key})
            .join(
                pl.DataFrame({"k": key.gather(first), "id": pl.int_range(len(first), eager=True)}),
                on="k",
                how="left",
                maintain_order="left",
            )
            .get_column("id")
            .to_numpy()
        )
        first_np = first.cast(pl.Int64).to_numpy()
        if (values.gather(first_np[ids]) == values).all():
            break
    return DenseIds(ids.astype(np.int64), first_np)


def _below(new: np.ndarray, old: np.ndarray, buf: np.ndarray | None, tol: float) -> bool:
    """Whether ``max |new - old|`` (0 when empty) is below ``tol``.

    The largest ``|x|`` is taken as ``max(max x, -min x)`` (the same number: two reads
    instead of a written ``abs`` and a read), ``x`` written into ``buf`` when given.
    """
    diff = np.subtract(new, old, out=buf) if buf is not None else new - old
    return max(float(diff.max(initial=0.0)), -float(diff.min(initial=0.0))) < tol


def rev2(
    edges: pl.DataFrame,
    *,
    params: RatingParams | None = None,
    rater_totals: tuple[str, ...] = (),
    rater_ids: DenseIds | None = None,
    target_ids: DenseIds | None = None,
    rater_targets: np.ndarray | None = None,
) -> Rev2Result:
    """Compute REV2 fairness, goodness and reliability on a rating graph.

    Parameters
    ----------
    edges
        One row per rating: ``feedback_id``, ``author_id``, ``target_id``,
        ``score`` (Float64 in [-1, 1]) and optionally ``anomaly`` (Float64 in
        [0, 1], the rating's behavioural anomaly; 0 when absent).
    params
        Priors and iteration limits (``rev2_*`` fields of :class:`RatingParams`).
    rater_totals
        Boolean or integer edge columns to total per rater (``n_<column>`` in
        ``fairness``), computed on the same dense ids at no extra grouping cost.
    rater_ids, target_ids
        :func:`dense_ids` of ``edges["author_id"]`` / ``edges["target_id"]`` when the
        caller has them already (same rows, same order); computed here when ``None``.
    rater_targets
        Per rater id (of ``rater_ids``), the number of distinct targets it rated, when the
        caller counted them already (``n_targets`` of ``fairness``); counted here when
        ``None``.

    Returns
    -------
    Rev2Result
        Fairness per rater, goodness per seller, reliability per rating.

    Examples
    --------
    >>> edges = pl.DataFrame({"feedback_id": ["f1"], "author_id": ["a"],
    ...                       "target_id": ["s"], "score": [1.0]})
    >>> round(rev2(edges).reliability["reliability"].item(), 3)
    1.0
    """
    p = params or RatingParams()
    if "anomaly" not in edges.columns:
        edges = edges.with_columns(anomaly=pl.lit(0.0))
    # Edges in input order, so that every float sum below runs in one fixed order
    # (byte-identical results across runs on the same input). Dense ids come from
    # string hashes, checked and renumbered by first appearance (see dense_ids).
    e = edges.select(
        "feedback_id",
        "author_id",
        "target_id",
        pl.col("score").cast(pl.Float64),
        pl.col("anomaly").cast(pl.Float64).fill_null(0.0),
        *[pl.col(c).cast(pl.Int64).fill_null(0) for c in rater_totals],
    )
    raters_ = rater_ids if rater_ids is not None else dense_ids(e["author_id"])
    targets_ = target_ids if target_ids is not None else dense_ids(e["target_id"])
    if len(raters_.ids) != e.height or len(targets_.ids) != e.height:
        raise ValueError(
            f"rater_ids/target_ids have {len(raters_.ids)}/{len(targets_.ids)} rows, "
            f"edges {e.height}; pass the dense_ids of these edges' columns, or None"
        )
    u, u_first = raters_.ids, raters_.first
    t, t_first = targets_.ids, targets_.first
    s = e["score"].to_numpy()
    n_u = int(u.max()) + 1 if len(u) else 0
    n_t = int(t.max()) + 1 if len(t) else 0
    deg_u = np.bincount(u, minlength=n_u).astype(np.float64)
    deg_t = np.bincount(t, minlength=n_t).astype(np.float64)
    ibs = np.bincount(u, weights=e["anomaly"].to_numpy(), minlength=n_u) / np.maximum(deg_u, 1.0)

    a1, a2, b = p.rev2_alpha_fairness, p.rev2_alpha_behavior, p.rev2_beta_goodness
    g1, g2 = p.rev2_gamma_fairness, p.rev2_gamma_agreement
    f = np.ones(n_u)
    g = np.ones(n_t)
    r = np.ones(len(u))
    # per-edge and per-rater work in preallocated buffers (same operations in the same order
    # as the formulas above, so the same bits; fresh multi-MB temporaries cost page faults
    # each round). The gathers use mode="wrap": every id is in range, so the values are
    # those of the default mode, without its bounds checks (two to three times faster).
    r_next, work = np.empty(len(u)), np.empty(len(u))
    f_next, diff_u = np.empty(n_u), np.empty(n_u)
    prior_f = a2 * (1.0 - ibs)  # constant across iterations
    den_g, den_f = b + deg_t, (a1 + a2) + deg_u  # likewise (a1 + a2 + deg_u, as Python adds)
    iterations, converged = 0, len(u) == 0
    rounds = range(1, p.rev2_iterations + 1) if len(u) else range(0)
    for iterations in rounds:  # noqa: B007 - iterations is reported
        np.multiply(r, s, out=work)
        g_new = (b * g.mean() + np.bincount(t, weights=work, minlength=n_t)) / den_g
        g_new = np.clip(g_new, -1.0, 1.0)
        # r_next = (g1 * f[u] + g2 * (1 - |s - g_new[t]| / 2)) / (g1 + g2)
        np.take(g_new, t, out=work, mode="wrap")
        np.subtract(s, work, out=work)
        np.abs(work, out=work)
        np.divide(work, 2.0, out=work)
        np.subtract(1.0, work, out=work)
        if g2 != 1.0:  # x * 1.0 is x, bit for bit: skip the pass
            np.multiply(g2, work, out=work)
        np.take(f, u, out=r_next, mode="wrap")
        if g1 != 1.0:
            np.multiply(g1, r_next, out=r_next)
        np.add(r_next, work, out=r_next)
        np.divide(r_next, g1 + g2, out=r_next)
        # f_new = (a1 * mean(f) + prior_f + sum of r_next per rater) / den_f, added in that
        # order (x + y is y + x, bit for bit)
        np.add(prior_f, a1 * f.mean(), out=f_next)
        np.add(f_next, np.bincount(u, weights=r_next, minlength=n_u), out=f_next)
        np.divide(f_next, den_f, out=f_next)
        # converged when the largest change of g, f and r is below the tolerance: the
        # changes are taken smallest array first, and the next only while all so far are
        # below it (the same decision as from all three; most rounds g settles it)
        converged = _below(g_new, g, None, p.rev2_tolerance) and (
            _below(f_next, f, diff_u, p.rev2_tolerance)
            and _below(r_next, r, work, p.rev2_tolerance)
        )
        f, f_next = f_next, f
        g = g_new
        r, r_next = r_next, r
        if converged:
            break

    if rater_targets is None:
        pairs = pl.Series(u * max(n_t, 1) + t).unique().to_numpy() // max(n_t, 1)
        rater_targets = np.bincount(pairs, minlength=n_u)  # distinct targets per rater
    elif len(rater_targets) != n_u:
        raise ValueError(
            f"rater_targets has {len(rater_targets)} values for {n_u} raters; pass one count "
            "per rater id of rater_ids, or None"
        )
    raters = pl.DataFrame(
        {
            "account_id": e["author_id"].gather(u_first),
            "fairness": f,
            "anomaly": ibs,
            "n_ratings": deg_u.astype(np.int64),
            "n_targets": np.asarray(rater_targets).astype(np.int64),
            "mean_reliability": np.bincount(u, weights=r, minlength=n_u) / np.maximum(deg_u, 1.0),
            **{
                f"n_{c}": np.bincount(u, weights=e[c].to_numpy(), minlength=n_u).astype(np.int64)
                for c in rater_totals
            },
        }
    )
    targets = pl.DataFrame(
        {
            "seller_id": e["target_id"].gather(t_first),
            "goodness": g,
            "n_ratings": deg_t.astype(np.int64),
        }
    ).sort("seller_id")
    reliability = e.select("feedback_id", reliability=pl.Series(r, dtype=pl.Float64))
    return Rev2Result(
        fairness=raters,
        goodness=targets,
        reliability=reliability,
        iterations=iterations,
        converged=converged,
    )
