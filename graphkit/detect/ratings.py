"""Rating-pattern analysis: manipulated feedback and detailed seller ratings (DSRs).

The community and dense-block detectors find *who* acts together; this module
finds *whose ratings are not what honest buyers would give* and how much each
seller's reputation is inflated. :func:`rating_signals` makes one pass over
buyer -> seller feedback and returns four tables:

- ``sellers``: per seller, raw and Bayesian-smoothed rating and DSR means,
  the BIRDNEST-style divergence from the population, bursts of top ratings
  against the seller's own baseline, the shares of top ratings from new,
  grouped and identity-linked accounts, perfect 5/5/5 DSR concentration,
  too-early feedback, top ratings refunded afterwards, feedback trading, the
  inflation of each mean once unreliable ratings are removed, a 0..1
  ``manipulation_score``, the fired ``signals`` and an ``explanation``;
- ``raters``: per rating account, REV2 fairness and behaviour counts;
- ``feedback``: per buyer -> seller feedback, REV2 reliability, evidence flags
  and ``suspicious``;
- ``trading_pairs``: reciprocal top ratings between accounts tied to
  different sellers.

Examples
--------
>>> from graphkit.detect.ratings import rating_signals
>>> sig = rating_signals(ds)  # doctest: +SKIP
>>> sig.sellers.sort("manipulation_score", descending=True).select(
...     "seller_id", "manipulation_score", "explanation").head()  # doctest: +SKIP
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

from graphkit.contract import DSR_COLUMNS
from graphkit.dataset import Dataset
from graphkit.detect.inflation import add_inflation, fmt2, fmt_pct, inflation_explanation
from graphkit.detect.rating_features import (
    DIMENSIONS,
    add_group_counts,
    add_reliable_counts,
    base_flags,
    buyer_rows,
    group_flags,
    in_burst_flag,
    kl_divergence,
    population_stats,
    reliable_counts,
    seller_base_counts,
    seller_bursts,
    seller_counts,
    seller_origins,
    smoothed_mean,
    smoothed_share,
)
from graphkit.detect.rating_params import RatingParams
from graphkit.detect.rating_trading import (
    TRADING_SCHEMA,
    ring_group_members,
    seller_ties,
    trading_pairs,
)
from graphkit.detect.rev2 import DenseIds, dense_ids, rev2
from graphkit.findings import SIGNAL

__all__ = [
    "CONTEXT_SIGNALS",
    "FEEDBACK_FLAGS",
    "STRONG_FLAGS",
    "WEAK_FLAGS",
    "RatingBase",
    "RatingParams",
    "RatingSignals",
    "rating_base",
    "rating_signals",
]

#: Boolean evidence columns of ``RatingSignals.feedback``.
FEEDBACK_FLAGS: tuple[str, ...] = (
    "from_new_account",
    "repeat_rater",
    "in_group_with_target",
    "linked_to_target",
    "perfect_dsr",
    "too_early",
    "refunded_after",
    "traded",
    "in_burst",
)
#: Flags that mark a positive rating suspicious on their own (hard to explain honestly).
STRONG_FLAGS: tuple[str, ...] = (
    "in_group_with_target",
    "linked_to_target",
    "too_early",
    "traded",
)
#: Flags that mark a positive rating suspicious only when two of them agree *and* the
#: seller shows the pattern (its new-account, repeat-rater or burst signal fired): an honest
#: new buyer who comes back three times is not a shill, one of forty such buyers may be.
WEAK_FLAGS: tuple[str, ...] = ("from_new_account", "repeat_rater", "in_burst")
#: ``refunded_after`` marks a positive rating suspicious when the seller's refunded-top
#: signal fired (honest stores refund a few orders after a good rating too).
CONTEXT_SIGNALS: dict[str, tuple[str, ...]] = {
    "refunded_after": ("refunded_top",),
    "weak_pair": ("new_accounts", "repeat_raters", "burst"),
}


@dataclass(frozen=True)
class RatingSignals:
    """The output of :func:`rating_signals`.

    Attributes
    ----------
    sellers
        One row per seller with buyer feedback, sorted by ``seller_id``.
    raters
        One row per account that rated a seller, in the order of its first rating.
    feedback
        One row per buyer -> seller feedback, in the order of the feedback table
        (sorting millions of string ids costs seconds; sort when you need it).
    trading_pairs
        Reciprocal feedback between accounts tied to different sellers.
    population
        The population statistics the sellers were compared with.
    notes
        Signals that were not computed and why (e.g. no ``identity_links`` given).
    params
        The parameters used.
    """

    sellers: pl.DataFrame
    raters: pl.DataFrame
    feedback: pl.DataFrame
    trading_pairs: pl.DataFrame
    population: dict[str, float]
    notes: tuple[str, ...]
    params: RatingParams


@dataclass(frozen=True)
class RatingBase:
    """The part of :func:`rating_signals` that needs no detection result.

    Attributes
    ----------
    flags
        Buyer -> seller feedback with the group-independent flags
        (:func:`~graphkit.detect.rating_features.base_flags`, collected; rows in the
        order of the feedback table, ``_row`` their position in it) and ``in_burst`` (a top rating
        inside one of its seller's bursts).
    params
        The parameters it was computed with.
    burst_sellers
        Per seller, its strongest burst of top ratings
        (:func:`~graphkit.detect.rating_features.seller_bursts`).
    author_ids, target_ids
        :func:`~graphkit.detect.rev2.dense_ids` of the rows' ``author_id`` and
        ``target_id`` (also the columns ``_uid`` and ``_tid`` of ``flags``): REV2's ids,
        and the integer keys of the repeat-rater count and of the group and link flags.
    counts
        Per seller, the rating counts that need no detection result
        (:func:`~graphkit.detect.rating_features.seller_base_counts`, with ``_tid``).
    rater_targets
        Per rater id (``_uid``), the number of distinct sellers it rated (REV2's
        ``n_targets``).
    order_sellers
        The distinct ``seller_id`` of the orders (which group members are stores).
    """

    flags: pl.DataFrame
    params: RatingParams
    burst_sellers: pl.DataFrame
    author_ids: DenseIds | None = None
    target_ids: DenseIds | None = None
    counts: pl.DataFrame | None = None
    rater_targets: np.ndarray | None = None
    order_sellers: pl.Series | None = None

    @property
    def authors(self) -> pl.Series | None:
        """The distinct ``author_id`` values, each at the position of its ``_uid``."""
        if self.author_ids is None:
            return None
        return self.flags.get_column("author_id").gather(self.author_ids.first)

    @property
    def targets(self) -> pl.Series | None:
        """The distinct ``target_id`` values (sellers), each at the position of its ``_tid``."""
        if self.target_ids is None:
            return None
        return self.flags.get_column("target_id").gather(self.target_ids.first)


def rating_base(
    ds: Dataset, params: RatingParams | None = None, *, matches: pl.DataFrame | None = None
) -> RatingBase:
    """Compute the group-independent part of :func:`rating_signals` (flags and bursts).

    A scan computes it while group detection runs and passes it to
    :func:`rating_signals` (``base=``); the signals are the same as without it. Besides
    the flagged feedback and the bursts it holds what :func:`rating_signals` would otherwise
    compute after detection: the dense rater / seller ids, the per-seller counts that need
    no detection result, REV2's distinct sellers per rater and the orders' distinct sellers.

    Parameters
    ----------
    ds
        The dataset: ``orders`` and ``feedback`` required.
    params
        Thresholds; :class:`RatingParams` defaults when ``None``.
    matches
        ``MarketGraph.buyer_feedback`` of ``ds`` when built already (see
        :func:`~graphkit.detect.rating_features.buyer_rows`).

    Returns
    -------
    RatingBase
        The flagged feedback, bursts, ids, counts and the parameters used.

    Examples
    --------
    >>> base = rating_base(ds)  # doctest: +SKIP
    >>> sig = rating_signals(ds, base=base)  # doctest: +SKIP
    """
    p = params or RatingParams()
    rows = buyer_rows(ds, matches)
    # dense integer ids of raters and sellers, once: REV2 runs on them, and the repeat-rater
    # count groups by them instead of by two string columns
    authors, targets = dense_ids(rows["author_id"]), dense_ids(rows["target_id"])
    # ratings per (rater, seller) pair, counted once: the repeat-rater flag, and REV2's
    # count of distinct sellers per rater
    pair = authors.ids * max(len(targets.first), 1) + targets.ids
    per_pair = pl.DataFrame({"_k": pair}).group_by("_k").len()
    repeat = per_pair.filter(pl.col("len") >= p.repeat_min_ratings).get_column("_k")
    rater_targets = np.bincount(
        per_pair.get_column("_k").to_numpy() // max(len(targets.first), 1),
        minlength=len(authors.first),
    )
    rows = rows.with_columns(
        _uid=authors.ids,
        _tid=targets.ids,
        _repeat_rater=pl.Series(pair).is_in(repeat.implode()),
    )
    sellers = rows.get_column("target_id").gather(targets.first)  # each seller once
    accounts = ds.get("accounts")
    seller_created = None
    if accounts is not None:
        # registration times looked up once per distinct author and seller, in one left
        # join with the accounts (cheaper than replace_strict's map at 10M): the authors'
        # for the new-account flag, the sellers' for the burst baselines
        n_authors = len(authors.first)
        ids = pl.concat([rows.get_column("author_id").gather(authors.first), sellers])
        created = (
            pl.LazyFrame({"account_id": ids})
            .join(
                accounts.select("account_id", "created_at"),
                on="account_id",
                how="left",
                maintain_order="left",
            )
            .collect()
            .get_column("created_at")
        )
        seller_created = created.slice(n_authors)
        rows = rows.with_columns(_acct_created=created.slice(0, n_authors).gather(authors.ids))
    flags = base_flags(rows.lazy(), ds, p).collect()
    # bursts against the seller's own baseline (top ratings per seller and day: the row
    # order does not matter)
    origins = seller_origins(ds, p, sellers=sellers, created=seller_created).join(
        pl.LazyFrame({"target_id": sellers, "_tid": np.arange(len(sellers), dtype=np.int64)}),
        on="target_id",
    )
    burst_lazy, ends_lazy = seller_bursts(flags.lazy(), p, origins)
    burst_sellers, burst_ends = pl.collect_all([burst_lazy, ends_lazy])
    flags = in_burst_flag(flags.lazy(), burst_ends.lazy(), p).collect()
    counts = seller_base_counts(flags.lazy()).collect()
    order_sellers = ds.orders.select("seller_id").unique().collect().to_series()
    return RatingBase(
        flags, p, burst_sellers, authors, targets, counts, rater_targets, order_sellers
    )


def _flag(name: str) -> pl.Expr:
    return pl.col(name).fill_null(False)


def _score_and_flags(fb: pl.LazyFrame, p: RatingParams) -> pl.LazyFrame:
    strong = pl.any_horizontal([_flag(f) for f in STRONG_FLAGS])
    n_weak = pl.sum_horizontal([_flag(f).cast(pl.Int8) for f in WEAK_FLAGS])
    weak = n_weak >= 2
    refunded = _flag("refunded_after") & pl.col("positive")
    return fb.with_columns(
        score=(pl.mean_horizontal("rating", *DSR_COLUMNS) - 3.0) / 2.0,
        anomaly=pl.when(strong).then(1.0).when(weak | refunded).then(0.5).otherwise(0.0),
        _strong=strong,
        _weak=weak,
        _refunded=refunded,
    )


def _reasons(fb: pl.DataFrame) -> pl.Series:
    """Return the names of the flags each rating carries (``unreliable`` included).

    Built only for rows with evidence beyond a perfect DSR triple (most honest
    ratings are perfect and carry nothing else); the others get an empty list.
    Each row's flags are packed into an integer bit code and the few distinct
    codes are translated into their lists once (building a list per row costs
    seconds at millions of ratings).
    """
    cols = [*FEEDBACK_FLAGS, "_unreliable"]
    names = [*FEEDBACK_FLAGS, "unreliable"]
    evidence = pl.any_horizontal(
        [_flag(f) for f in FEEDBACK_FLAGS if f != "perfect_dsr"] + [_flag("_unreliable")]
    )
    bits = pl.sum_horizontal([_flag(c).cast(pl.Int32) * (1 << i) for i, c in enumerate(cols)])
    codes = fb.select(pl.when(evidence).then(bits).otherwise(0).alias("_code"))
    distinct = codes.get_column("_code").unique().sort().to_list()  # at most 2**10 codes
    lists = pl.DataFrame(
        {
            "_code": distinct,
            "reasons": [[n for i, n in enumerate(names) if c >> i & 1] for c in distinct],
        },
        schema={"_code": pl.Int32, "reasons": pl.List(pl.String)},
    )
    return codes.join(lists, on="_code", how="left", maintain_order="left").get_column("reasons")


# ----------------------------------------------------------------------------- seller signals
@dataclass(frozen=True)
class _Signal:
    name: str
    value: pl.Expr  # what is judged (Float64)
    threshold: pl.Expr  # fires when value >= threshold
    base: pl.Expr  # the honest level (population), contribution grows from it
    detail: pl.Expr  # plain text with the numbers
    fired: pl.Expr  # extra condition (e.g. enough ratings), ANDed with value >= threshold


def _share_signal(
    name: str,
    count: str,
    n: str,
    pop: float,
    lo: float,
    lift: float,
    what: str,
    p: RatingParams,
    *,
    inverse: bool = False,
) -> _Signal:
    value = smoothed_share(count, n, pop, p.prior_strength)
    thr = max(lo, lift * pop) if not inverse else max(lo, 1.0 - (1.0 - pop) / lift)
    raw = pl.col(count) / pl.col(n)
    detail = pl.format(
        "{} of {} {} ({}; smoothed {}, population {}, threshold {})",
        pl.col(count),
        pl.col(n),
        pl.lit(what),
        fmt_pct(raw),
        fmt_pct(value),
        fmt_pct(pl.lit(pop)),
        fmt_pct(pl.lit(thr)),
    )
    enough = pl.col(count) >= p.min_flagged
    return _Signal(name, value, pl.lit(thr), pl.lit(pop), detail, (pl.col(n) > 0) & enough)


_SHARE_KEYS = ("linked", "group", "refunded", "early", "new", "repeat", "perfect")


def _signals(pop: dict[str, float], p: RatingParams) -> list[_Signal]:
    sigs = [
        _share_signal(
            "linked_accounts",
            "n_top_linked",
            "n_top",
            pop["linked"],
            p.linked_share_min,
            p.linked_share_lift,
            "top ratings from accounts identity-linked to the seller",
            p,
        ),
        _share_signal(
            "group_members",
            "n_top_group",
            "n_top",
            pop["group"],
            p.group_share_min,
            p.group_share_lift,
            "top ratings from members of a detected group with the seller",
            p,
        ),
        _share_signal(
            "refunded_top",
            "n_top_refunded",
            "n_top",
            pop["refunded"],
            p.refunded_share_min,
            p.refunded_share_lift,
            "top ratings on orders refunded afterwards",
            p,
        ),
        _share_signal(
            "too_early",
            "n_early",
            "n_ratings",
            pop["early"],
            p.early_share_min,
            p.early_share_lift,
            f"ratings left < {p.min_delivery_days:g} days after payment or unpaid",
            p,
        ),
        _share_signal(
            "new_accounts",
            "n_top_new",
            "n_top",
            pop["new"],
            p.new_share_min,
            p.new_share_lift,
            f"top ratings from accounts < {p.new_account_days:g} days old",
            p,
        ),
        _share_signal(
            "repeat_raters",
            "n_top_repeat",
            "n_top",
            pop["repeat"],
            p.repeat_share_min,
            p.repeat_share_lift,
            f"top ratings from accounts that rated the seller >= {p.repeat_min_ratings} times",
            p,
        ),
        _share_signal(
            "perfect_dsr",
            "n_perfect",
            "n_dsr_triples",
            pop["perfect"],
            p.perfect_share_min,
            p.perfect_share_lift,
            "ratings with perfect 5/5/5 DSRs",
            p,
            inverse=True,
        ),
    ]
    # a share whose population value is undefined was not computed (flag input absent)
    sigs = [s for s, key in zip(sigs, _SHARE_KEYS, strict=True) if pop[key] == pop[key]]
    unreliable = smoothed_share("n_suspicious", "n_positive", pop["unreliable"], p.prior_strength)
    sigs.append(
        _Signal(
            "unreliable_ratings",
            unreliable,
            pl.lit(p.unreliable_share_min),
            pl.lit(pop["unreliable"]),
            pl.format(
                "{} of {} positive ratings unreliable ({}; smoothed {}, threshold {})",
                pl.col("n_suspicious"),
                pl.col("n_positive"),
                fmt_pct(pl.col("n_suspicious") / pl.col("n_positive")),
                fmt_pct(unreliable),
                fmt_pct(pl.lit(p.unreliable_share_min)),
            ),
            pl.col("n_positive") > 0,
        )
    )
    traded = smoothed_share("n_top_traded", "n_top", pop["traded"], p.prior_strength)
    sigs.append(
        _Signal(
            "feedback_trading",
            traded,
            pl.lit(p.trading_share_min),
            pl.lit(0.0),
            pl.format(
                "{} of {} top ratings traded with {} other seller(s) ({}; smoothed {}, "
                "threshold {})",
                pl.col("n_top_traded"),
                pl.col("n_top"),
                pl.col("n_trading_partners"),
                fmt_pct(pl.col("n_top_traded") / pl.col("n_top")),
                fmt_pct(traded),
                fmt_pct(pl.lit(p.trading_share_min)),
            ),
            (pl.col("n_trading_partners") > 0)
            & (pl.col("n_top_traded") >= p.trading_min_per_direction),
        )
    )
    sigs.append(
        _Signal(
            "burst",
            pl.col("burst_ratio"),
            pl.lit(p.burst_min_ratio),
            pl.lit(1.0),
            pl.format(
                "{} top ratings in {} days ending {} vs {} expected from the seller's baseline "
                "({}x, threshold {}x and >= {})",
                pl.col("burst_count"),
                pl.lit(p.burst_window_days),
                pl.col("burst_end").dt.strftime("%Y-%m-%d"),
                fmt2(pl.col("burst_expected")),
                fmt2(pl.col("burst_ratio")),
                pl.lit(f"{p.burst_min_ratio:g}"),
                pl.lit(p.burst_min_count),
            ),
            pl.col("burst_count") >= p.burst_min_count,
        )
    )
    sigs.append(
        _Signal(
            "divergence",
            pl.col("divergence"),
            pl.lit(p.divergence_min),
            pl.lit(0.0),
            pl.format(
                "rating/DSR distributions diverge from the population by {} nats "
                "(smoothed with {} pseudo-ratings; threshold {})",
                fmt2(pl.col("divergence")),
                pl.lit(f"{p.prior_strength:g}"),
                pl.lit(f"{p.divergence_min:g}"),
            ),
            pl.col("divergence").is_not_null() & (pl.col("rating_smoothed") > pop["mean_rating"]),
        )
    )
    return sigs


def _is_fired(s: _Signal) -> pl.Expr:
    return (s.value >= s.threshold).fill_null(False) & s.fired.fill_null(False)


def _add_signal_columns(frame: pl.LazyFrame, sigs: list[_Signal], p: RatingParams) -> pl.LazyFrame:
    """Add ``manipulation_score`` (noisy-OR of the contributions) and the fired ``signals``.

    The list of fired signals is built in long form (one row per seller and fired signal,
    in signal order) and gathered back per seller: ``pl.concat_list`` of nullable structs
    runs row by row and costs seconds on 50k sellers.
    """
    structs, contribs = [], []
    for s in sigs:
        fired = _is_fired(s)
        strength = ((s.value - s.base) / (s.threshold - s.base)).clip(lower_bound=0.0)
        contrib = pl.when(fired).then(
            p.weight(s.name) * pl.min_horizontal(pl.lit(1.0), 0.5 + 0.5 * (strength - 1.0))
        )
        contribs.append(contrib.fill_null(0.0))
        structs.append(
            pl.when(fired).then(
                pl.struct(
                    name=pl.lit(s.name),
                    value=s.value.cast(pl.Float64),
                    threshold=s.threshold.cast(pl.Float64),
                    contribution=contrib,
                    detail=s.detail,
                )
            )
        )
    keep = 1.0 - pl.reduce(lambda acc, x: acc * x, [1.0 - c for c in contribs])
    cols = [f"_sig{i}" for i in range(len(structs))]
    wide = frame.with_row_index("_row").with_columns(
        keep.alias("manipulation_score"), *[x.alias(c) for x, c in zip(structs, cols, strict=True)]
    )
    fired_long = (
        wide.unpivot(on=cols, index="_row", value_name="signals")
        .filter(pl.col("signals").is_not_null())
        .group_by("_row", maintain_order=True)  # keeps the signal order within a seller
        .agg("signals")
    )
    empty = pl.lit([], dtype=pl.List(SIGNAL))
    signals = (
        pl.col("signals")
        .cast(pl.List(SIGNAL))
        .fill_null(empty)
        .list.eval(pl.element().sort_by(pl.element().struct.field("contribution"), descending=True))
        .cast(pl.List(SIGNAL))
    )
    return (
        wide.drop(cols)
        .join(fired_long, on="_row", how="left", maintain_order="left")
        .with_columns(signals)
        .drop("_row")
    )


def _explanation(notes: tuple[str, ...]) -> pl.Expr:
    fired = pl.col("signals").list.eval(pl.element().struct.field("detail")).list.join("; ")
    head = pl.format("manipulation score {}", fmt2(pl.col("manipulation_score")))
    body = (
        pl.when(pl.col("signals").list.len() > 0)
        .then(fired)
        .otherwise(pl.lit("no rating signal fired"))
    )
    parts = [
        head,
        pl.lit(": "),
        body,
        pl.lit(". Inflation: "),
        pl.col("_inflation_text"),
        pl.lit("."),
    ]
    if notes:
        parts.append(pl.lit(" Not computed: " + "; ".join(notes) + "."))
    return pl.concat_str(parts).alias("explanation")


def _sellers(
    counts: pl.DataFrame,
    bursts: pl.LazyFrame,
    pairs: pl.DataFrame,
    goodness: pl.DataFrame,
    pop: dict[str, float],
    notes: tuple[str, ...],
    p: RatingParams,
) -> pl.DataFrame:
    m = p.prior_strength
    partners = (
        pl.concat(
            [
                pairs.select(
                    pl.col("seller_a").alias("seller_id"), pl.col("seller_b").alias("partner")
                ),
                pairs.select(
                    pl.col("seller_b").alias("seller_id"), pl.col("seller_a").alias("partner")
                ),
            ]
        )
        .group_by("seller_id")
        .agg(pl.col("partner").n_unique().cast(pl.Int64).alias("n_trading_partners"))
    )
    divs = [kl_divergence(d, pop, m) for d in DIMENSIONS]
    frame = (
        counts.lazy()
        .join(bursts.rename({"target_id": "seller_id"}), on="seller_id", how="left")
        .join(partners.lazy(), on="seller_id", how="left")
        .join(goodness.lazy().select("seller_id", "goodness"), on="seller_id", how="left")
        .with_columns(
            pl.col("n_trading_partners", "burst_days").fill_null(0),
            divergence=pl.mean_horizontal(divs),
            **{
                f"{d}_smoothed": smoothed_mean(f"sum_{d}", f"n_{d}", pop[f"mean_{d}"], m)
                for d in DIMENSIONS
            },
        )
        .with_columns(birdnest_score=pl.col("divergence") * pl.col("n_ratings"))
        .pipe(add_inflation)
        .with_columns(
            _inflation_text=inflation_explanation(),
            unreliable_share=pl.when(pl.col("n_positive") > 0).then(
                pl.col("n_suspicious") / pl.col("n_positive")
            ),
            share_top_from_new_accounts=pl.col("n_top_new") / pl.col("n_top"),
            share_top_from_group_members=pl.col("n_top_group") / pl.col("n_top"),
            share_top_from_any_group=pl.col("n_top_any_group") / pl.col("n_top"),
            share_top_from_linked_accounts=pl.col("n_top_linked") / pl.col("n_top"),
            perfect_dsr_share=pl.col("n_perfect") / pl.col("n_dsr_triples"),
            early_feedback_share=pl.col("n_early") / pl.col("n_ratings"),
            refunded_top_share=pl.col("n_top_refunded") / pl.col("n_top"),
            share_top_from_repeat_raters=pl.col("n_top_repeat") / pl.col("n_top"),
        )
        .with_columns(pl.col("^share_.*$", "^.*_share$").fill_nan(None))
        .pipe(_add_signal_columns, _signals(pop, p), p)
        .with_columns(_explanation(notes))
    )
    cols = [
        "seller_id",
        "n_ratings",
        "n_top",
        "n_positive",
        "n_dsr_triples",
        *[c for d in DIMENSIONS for c in (f"{d}_mean", f"{d}_smoothed")],
        "divergence",
        "birdnest_score",
        "goodness",
        "burst_count",
        "burst_expected",
        "burst_ratio",
        "burst_end",
        "burst_days",
        "n_in_burst",
        "share_top_from_new_accounts",
        "share_top_from_group_members",
        "share_top_from_any_group",
        "share_top_from_linked_accounts",
        "perfect_dsr_share",
        "early_feedback_share",
        "refunded_top_share",
        "share_top_from_repeat_raters",
        "n_top_new",
        "n_top_repeat",
        "n_top_group",
        "n_top_linked",
        "n_perfect",
        "n_early",
        "n_top_refunded",
        "n_top_traded",
        "n_trading_partners",
        *[c for d in DIMENSIONS for c in (f"{d}_mean_reliable", f"{d}_inflation")],
        "n_unreliable",
        "unreliable_share",
        "manipulation_score",
        "signals",
        "explanation",
    ]
    return frame.select(cols).sort("seller_id").collect()


def _raters(fb: pl.DataFrame, fairness: pl.DataFrame) -> pl.DataFrame:
    # per-rater totals come from REV2's dense ids; only the (few) suspicious rows are grouped here
    sus = (
        fb.filter(pl.col("suspicious"))
        .group_by(pl.col("author_id").alias("account_id"))
        .agg(pl.len().cast(pl.Int64).alias("n_suspicious"))
    )
    return fairness.join(sus, on="account_id", how="left", maintain_order="left").select(
        "account_id",
        "fairness",
        "anomaly",
        "n_ratings",
        "n_top",
        pl.col("n_targets").alias("n_sellers"),
        pl.col("n__strong").alias("n_strong_flags"),
        pl.col("n__weak").alias("n_weak_flag_pairs"),
        pl.col("n_suspicious").fill_null(0),
        "mean_reliability",
    )


def _member_sellers(ds: Dataset, base: RatingBase, group_members: pl.DataFrame) -> pl.Series:
    """Return the group members that sell (are the seller of an order)."""
    members = pl.lit(group_members.get_column("account_id").cast(pl.String)).implode()
    if base.order_sellers is not None:
        return base.order_sellers.filter(base.order_sellers.is_in(members))
    return (
        ds.orders.select("seller_id")
        .filter(pl.col("seller_id").is_in(members))
        .unique()
        .collect()
        .to_series()
    )


def _trades(
    fb: pl.DataFrame, ties: pl.DataFrame, authors: pl.Series | None, min_per_direction: int
) -> tuple[pl.DataFrame, pl.Series]:
    """Return the trading pairs of ``fb`` and the boolean ``traded`` per rating.

    Only positive ratings whose author is tied to a seller can be cross ratings: with the
    distinct raters (``authors``, position = ``_uid``) those rows are picked on their
    integer ids first, and only their (unique, per the contract) feedback ids are matched
    with the pairs' evidence.
    """
    if authors is None:
        cand = fb.lazy()
        rows = None
    else:
        tied = authors.is_in(ties.get_column("account_id").implode()).fill_null(False)
        rows = (
            fb.select(
                pl.col("positive").fill_null(False)
                & pl.col("_uid").is_in(pl.lit(tied.arg_true().cast(pl.Int64)).implode())
            )
            .to_series()
            .arg_true()
        )
        cand = fb.select("feedback_id", "author_id", "target_id", "positive")[rows].lazy()
    pairs = (
        trading_pairs(cand, ties.lazy(), min_per_direction=min_per_direction)
        .collect()
        .cast(TRADING_SCHEMA)  # type: ignore[arg-type]
    )
    ids = pl.lit(pairs.get_column("feedback_ids").explode().unique()).implode()
    if rows is None:
        return pairs, fb.select(traded=pl.col("feedback_id").is_in(ids)).to_series()
    hit = rows.filter(fb.get_column("feedback_id").gather(rows).is_in(ids))
    traded = pl.zeros(fb.height, dtype=pl.Boolean, eager=True).scatter(hit, True)
    return pairs, traded.alias("traded")


def rating_signals(
    ds: Dataset,
    *,
    group_members: pl.DataFrame | None = None,
    identity_links: pl.DataFrame | None = None,
    params: RatingParams | None = None,
    groups: pl.DataFrame | None = None,
    base: RatingBase | None = None,
) -> RatingSignals:
    """Score every seller's ratings for manipulation, every rater for fairness.

    Parameters
    ----------
    ds
        The dataset: ``orders`` and ``feedback`` required; ``accounts`` (new
        accounts) and ``refunds`` (paid ratings) used when present.
    group_members
        ``group_id, account_id, role`` of detected groups
        (``graphkit.detect.detect_groups(ds).members``); without it the group
        signals are null and the explanation says "not computed".
    identity_links
        ``account_a, account_b, ...`` (``detect_groups(ds).identity.links``);
        without it the linked-account signal is null, and feedback trading only
        sees sellers' own accounts (and group members).
    params
        Thresholds and priors; :class:`RatingParams` defaults when ``None``.
    groups
        ``group_id, score`` of the detected groups (``detect_groups(ds).groups``);
        when given, only members of groups scoring at least
        ``params.group_min_score`` count (weak candidate groups are mostly organic
        clusters), and of weaker groups around a store that such a group holds
        (:func:`~graphkit.detect.rating_trading.ring_group_members`); when ``None``
        every group of ``group_members`` counts.
    base
        :func:`rating_base` of ``ds`` computed beforehand (used when its parameters are
        ``params``, else computed here); same output as without it.

    Returns
    -------
    RatingSignals
        ``sellers``, ``raters``, ``feedback`` and ``trading_pairs`` tables;
        byte-identical for the same input and parameters.

    Examples
    --------
    >>> sig = rating_signals(ds)  # doctest: +SKIP
    >>> sig.sellers.filter(pl.col("manipulation_score") > 0.5)["explanation"]  # doctest: +SKIP
    """
    p = params or RatingParams()
    if base is None or base.params != p:
        base = rating_base(ds, p)
    notes: list[str] = []
    if ds.get("accounts") is None:
        notes.append("new-account share (no accounts table)")
    if group_members is None:
        notes.append("group-member share (no group_members given)")
    elif groups is not None:
        group_members = ring_group_members(
            group_members,
            groups,
            min_score=p.group_min_score,
            # which members are stores: only members are ever looked up, so the sellers
            # among them (the base's distinct order sellers, or a scan of the orders)
            sellers=_member_sellers(ds, base, group_members),
            # the base's buyer feedback: a circle's raters are buyers (the weak groups'
            # members that are not stores), so the sellers' own feedback never counts
            ratings=base.flags.lazy().select("author_id", "target_id", "perfect_dsr"),
            circle_min_sellers=p.circle_min_sellers,
            circle_min_perfect_share=p.circle_min_perfect_share,
            circle_min_ratings=p.min_flagged,
            young_min_score=p.group_young_store_min_score,
        )
    if identity_links is None:
        notes.append("identity-linked share (no identity_links given)")

    # one collect of the flagged feedback, in the feedback table's order from here on (every
    # join keeps the left order): deterministic without sorting millions of strings. The
    # members and links are looked up among the distinct raters and sellers (position =
    # integer id) and the rows flagged on their integer ids
    authors, targets = base.authors, base.targets
    fb = group_flags(
        base.flags.lazy(),
        group_members=group_members,
        identity_links=identity_links,
        authors=authors,
        targets=targets,
    ).collect()

    # feedback trading (whole-graph stage: needs every seller's side)
    sellers = targets if targets is not None else fb.get_column("target_id").unique()
    ties = seller_ties(
        sellers,
        identity_links=identity_links,
        group_members=group_members if p.trading_ties_from_groups else None,
    ).collect()
    pairs, traded = _trades(fb, ties, authors, p.trading_min_per_direction)
    fb = fb.with_columns(traded)

    # bursts against the seller's own baseline (computed in the base: no detection result)
    burst_sellers = base.burst_sellers
    fb = _score_and_flags(fb.lazy(), p).collect()

    # REV2 (whole-graph stage), behavioural prior = the flags
    res = rev2(
        fb.select(
            "feedback_id", "author_id", "target_id", "score", "anomaly", "top", "_strong", "_weak"
        ),
        params=p,
        rater_totals=("top", "_strong", "_weak"),
        # the base's rows in the base's order (group_flags keeps both): the same ids
        rater_ids=base.author_ids,
        target_ids=base.target_ids,
        rater_targets=base.rater_targets,
    )
    if res.reliability["feedback_id"].equals(fb["feedback_id"]):  # both in input order
        fb = fb.with_columns(res.reliability["reliability"])
    else:  # pragma: no cover - defensive
        fb = fb.join(res.reliability, on="feedback_id", how="left", maintain_order="left")
    # per seller counts: the base counted every rating during detection, the detection-
    # dependent counts come from the few flagged ratings
    if base.counts is not None and "_tid" in fb.columns:
        counts = add_group_counts(base.counts, fb)
    else:
        counts = seller_counts(fb.lazy()).collect()
    pop = population_stats(counts.drop("_tid", strict=False))
    pop["unreliable"] = float("nan")  # set below, once suspicious is known

    # seller context for the context-dependent flags (per seller: partition-ready)
    by_name = {s.name: s for s in _signals(pop, p)}
    context = (
        counts.lazy()
        .join(burst_sellers.lazy().rename({"target_id": "seller_id"}), on="seller_id", how="left")
        .select(
            pl.col("_tid" if "_tid" in counts.columns else "seller_id").alias("_seller"),
            *[
                pl.any_horizontal(
                    [_is_fired(by_name[n]) for n in names if n in by_name] or [pl.lit(False)]
                ).alias(f"_ctx_{flag}")
                for flag, names in CONTEXT_SIGNALS.items()
            ],
        )
    )
    # per rating: does its seller show the context signal (a set lookup; joining the seller
    # table onto the whole frame would copy every column of millions of ratings)
    ctx = context.collect()
    seller = "_tid" if "_tid" in counts.columns else "target_id"
    fb = (
        fb.with_columns(
            pl.col(seller).is_in(ctx.filter(c).get_column("_seller").implode()).alias(c)
            for c in ("_ctx_refunded_after", "_ctx_weak_pair")
        )
        .lazy()
        .with_columns(
            _unreliable=pl.col("positive") & (pl.col("reliability") < p.min_reliability),
            _ctx=(pl.col("_refunded") & pl.col("_ctx_refunded_after").fill_null(False))
            | (pl.col("_weak") & pl.col("_ctx_weak_pair").fill_null(False)),
        )
        .with_columns(
            suspicious=pl.col("positive")
            & (pl.col("_strong") | pl.col("_ctx") | pl.col("_unreliable"))
        )
        .collect()
    )
    if "_tid" in counts.columns:  # totals minus the few unreliable ratings
        counts = add_reliable_counts(counts, fb).drop("_tid")
    else:
        counts = counts.join(
            reliable_counts(fb.lazy()).collect(), on="seller_id", how="left", maintain_order="left"
        )
    tot_pos = int(counts["n_positive"].sum())
    pop["unreliable"] = float(counts["n_suspicious"].sum()) / tot_pos if tot_pos else 0.0

    seller_table = _sellers(counts, burst_sellers.lazy(), pairs, res.goodness, pop, tuple(notes), p)
    feedback = fb.select(
        "feedback_id",
        "order_id",
        "author_id",
        "target_id",
        "created_at",
        "rating",
        *DSR_COLUMNS,
        "score",
        "reliability",
        "anomaly",
        *FEEDBACK_FLAGS,
        _reasons(fb),
        "suspicious",
    )
    return RatingSignals(
        sellers=seller_table,
        raters=_raters(fb, res.fairness),
        feedback=feedback,
        trading_pairs=pairs,
        population=pop,
        notes=tuple(notes),
        params=p,
    )
