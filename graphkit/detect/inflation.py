"""Reputation inflation: a seller's averages with and without the unreliable ratings.

Given the per-seller integer sums of :func:`graphkit.detect.rating_features.seller_counts`,
these expressions give the mean of the overall rating and of each DSR over all
buyer ratings and over the reliable ones only, the drop, and a sentence an
investigator can quote: "DSR item-as-described 4.93 -> 4.41 once 212
unreliable ratings are removed".

Examples
--------
>>> import polars as pl
>>> df = pl.DataFrame({"x": [4.926, None]})
>>> df.select(fmt2(pl.col("x"))).to_series().to_list()
['4.93', None]
"""

from __future__ import annotations

import polars as pl

from graphkit.detect.rating_features import DIMENSIONS

__all__ = ["LABELS", "add_inflation", "fmt2", "fmt_pct", "inflation_explanation"]

#: How each rating dimension is named in explanations.
LABELS: dict[str, str] = {
    "rating": "rating",
    "dsr_item_as_described": "DSR item-as-described",
    "dsr_communication": "DSR communication",
    "dsr_shipping_speed": "DSR shipping speed",
}


def fmt2(x: pl.Expr) -> pl.Expr:
    """Format a non-negative number with exactly two decimals (null stays null).

    Examples
    --------
    >>> pl.select(fmt2(pl.lit(4.4))).item()
    '4.40'
    """
    cents = (x * 100).round(0).cast(pl.Int64)
    return pl.format("{}.{}", cents // 100, (cents % 100).cast(pl.String).str.zfill(2))


def fmt_pct(x: pl.Expr) -> pl.Expr:
    """Format a share in [0, 1] as a whole percentage, e.g. ``"62%"``.

    Examples
    --------
    >>> pl.select(fmt_pct(pl.lit(0.624))).item()
    '62%'
    """
    return pl.format("{}%", (x * 100).round(0).cast(pl.Int64))


def add_inflation(frame: pl.LazyFrame) -> pl.LazyFrame:
    """Add means over all and over reliable-only ratings per dimension, and their drop.

    Parameters
    ----------
    frame
        Per-seller counts (:func:`graphkit.detect.rating_features.seller_counts`).

    Returns
    -------
    pl.LazyFrame
        ``frame`` plus ``<dim>_mean``, ``<dim>_mean_reliable``, ``<dim>_inflation``
        (all minus reliable-only; null when either is undefined) for ``rating``
        and each DSR, and ``n_unreliable``.

    Examples
    --------
    >>> add_inflation(counts)  # doctest: +SKIP
    """
    means: list[pl.Expr] = []
    for d in DIMENSIONS:
        n, nr = pl.col(f"n_{d}"), pl.col(f"n_{d}_reliable")
        means += [
            pl.when(n > 0).then(pl.col(f"sum_{d}") / n).alias(f"{d}_mean"),
            pl.when(nr > 0).then(pl.col(f"sum_{d}_reliable") / nr).alias(f"{d}_mean_reliable"),
        ]
    means.append(pl.col("n_suspicious").alias("n_unreliable"))
    drops = [
        (pl.col(f"{d}_mean") - pl.col(f"{d}_mean_reliable")).alias(f"{d}_inflation")
        for d in DIMENSIONS
    ]
    return frame.with_columns(means).with_columns(drops)


def inflation_explanation() -> pl.Expr:
    """Return the plain-text inflation sentence (needs :func:`add_inflation` first).

    Returns
    -------
    pl.Expr
        E.g. ``"DSR item-as-described 4.93 -> 4.41, rating 4.97 -> 4.20 once
        212 unreliable ratings are removed"``; dimensions without values are
        left out; ``"no unreliable ratings"`` when none were found.

    Examples
    --------
    >>> sellers.with_columns(inflation_explanation().alias("text"))  # doctest: +SKIP
    """
    order = (*DIMENSIONS[1:], DIMENSIONS[0])  # DSRs first: the issue is about them
    parts = [
        pl.when(pl.col(f"{d}_mean").is_not_null()).then(
            pl.format(
                "{} {} -> {}",
                pl.lit(LABELS[d]),
                fmt2(pl.col(f"{d}_mean")),
                pl.coalesce(fmt2(pl.col(f"{d}_mean_reliable")), pl.lit("(none left)")),
            )
        )
        for d in order
    ]
    n = pl.col("n_unreliable")
    noun = pl.when(n == 1).then(pl.lit("rating is")).otherwise(pl.lit("ratings are"))
    return (
        pl.when(n > 0)
        .then(
            pl.format(
                "{} once {} unreliable {} removed",
                pl.concat_list(parts).list.drop_nulls().list.join(", "),
                n,
                noun,
            )
        )
        .otherwise(pl.lit("no unreliable ratings"))
    )
