"""Per-feedback flags and per-seller rating features, as polars lazy frames.

The seller side of feedback manipulation is read from *buyer -> seller*
feedback only (the rows whose author is the order's buyer). Each function here
takes and returns frames (or returns ``pl.Expr``), so it composes lazily and
applies per hash partition of sellers: the only whole-dataset quantities are
the population statistics of :func:`population_stats`, computed once as an
explicit stage and passed in as numbers.

Examples
--------
>>> import polars as pl
>>> df = pl.DataFrame({"x": [5, 0], "n": [5, 0]})
>>> df.select(smoothed_share("x", "n", 0.5, 10.0).round(3)).to_series().to_list()
[0.667, 0.5]
"""

from __future__ import annotations

import polars as pl

from graphkit.contract import DSR_COLUMNS
from graphkit.dataset import Dataset
from graphkit.detect.rating_params import RatingParams

__all__ = [
    "COUNT_COLUMNS",
    "DIMENSIONS",
    "add_group_counts",
    "add_reliable_counts",
    "base_flags",
    "buyer_feedback",
    "buyer_rows",
    "flag_feedback",
    "group_flags",
    "in_burst_flag",
    "kl_divergence",
    "population_stats",
    "reliable_counts",
    "seller_base_counts",
    "seller_bursts",
    "seller_counts",
    "seller_origins",
    "smoothed_mean",
    "smoothed_share",
]

#: The rating dimensions compared with the population: overall rating + the three DSRs.
DIMENSIONS: tuple[str, ...] = ("rating", *DSR_COLUMNS)
_US_PER_DAY = 86_400_000_000
_FEEDBACK_COLUMNS: tuple[str, ...] = (
    "feedback_id",
    "order_id",
    "author_id",
    "target_id",
    "rating",
    *DSR_COLUMNS,
    "created_at",
)


def buyer_feedback(ds: Dataset) -> pl.LazyFrame:
    """Buyer -> seller feedback joined with its order (payment time, amount).

    Parameters
    ----------
    ds
        The dataset (``orders`` and ``feedback`` required).

    Returns
    -------
    pl.LazyFrame
        One row per feedback whose author is the order's buyer (its target is
        then the seller: the contract makes it the other party), in the order of
        the feedback table: the feedback columns plus ``order_created_at``,
        ``paid_at`` and ``amount``.

    Examples
    --------
    >>> fb = buyer_feedback(ds)  # doctest: +SKIP
    """
    return buyer_rows(ds).drop("_row").lazy()


def buyer_rows(ds: Dataset, matches: pl.DataFrame | None = None) -> pl.DataFrame:
    """:func:`buyer_feedback` collected, with ``_row``: each row's position in ``feedback``.

    Parameters
    ----------
    ds
        The dataset (``orders`` and ``feedback`` required).
    matches
        The match of feedback to orders when known: ``_row`` (feedback rows written by
        their order's buyer, ascending) and ``_order_row`` (the order's row), as
        ``MarketGraph.buyer_feedback`` of ``ds``; the orders' columns are then gathered
        at those rows instead of joined on the id strings. Same result.

    Returns
    -------
    pl.DataFrame
        ``_row`` (UInt32, ascending, flagged sorted) and the :func:`buyer_feedback` columns.

    Examples
    --------
    >>> rows = buyer_rows(ds)  # doctest: +SKIP
    """
    # the contract makes the target the other party of the order, so author == buyer is enough.
    # Two passes, for memory: the join moves the key columns only (feedback keys and row
    # positions with the orders' times and amount; orders on the left: a smaller transient),
    # then the feedback columns are read once more and gathered at the matched positions.
    # At 10M orders (sim_10000000_s0, 4.4M buyer ratings): peak 1.4-1.6 GiB above the start
    # vs 2.2 for the join of whole feedback rows, same CPU (5.7-6.5 s)
    order_columns = [
        pl.col("created_at").alias("order_created_at"),
        pl.col("paid_at"),
        pl.col("amount"),
    ]
    if matches is not None:
        # the match known (the market graph's): the three order columns gathered there
        taken = (
            ds.orders.select(order_columns)
            .collect()
            .select(pl.all().gather(matches.get_column("_order_row")))
        )
        matched = pl.concat([matches.select("_row"), taken], how="horizontal")
    else:
        orders = ds.orders.select("order_id", pl.col("buyer_id").alias("author_id"), *order_columns)
        keys = ds.feedback.select("order_id", "author_id").with_row_index("_row")
        matched = (
            orders.join(keys, on=["order_id", "author_id"])  # unordered, then one integer sort
            .select("_row", "order_created_at", "paid_at", "amount")
            .sort("_row")
            # the streaming engine: at 10M orders the same CPU as the in-memory engine, on
            # both cores (half the wall time); its join's row order varies, the sort fixes it
            .collect(engine="streaming")
        )
    rows = matched.get_column("_row")
    feedback = ds.feedback.select(*_FEEDBACK_COLUMNS).collect(engine="streaming")
    feedback = feedback.select(pl.all().gather(rows))
    return pl.concat(
        [matched.select(pl.col("_row").set_sorted()), feedback, matched.drop("_row")],
        how="horizontal",
    )


def _key_hash(keys: list[str]) -> pl.Expr:
    """Return a 64-bit hash of the ``keys`` columns (order-sensitive)."""
    h = pl.col(keys[0]).hash(11)
    for i, k in enumerate(keys[1:], start=1):
        h = h.xor(pl.col(k).hash(11 + 2 * i))
    return h


def _matching_rows(frame: pl.LazyFrame, keys: list[str], table: pl.LazyFrame) -> pl.LazyFrame:
    """``_row`` of the rows of ``frame`` whose ``keys`` occur in ``table`` (string keys).

    Joins on a 64-bit hash of the keys (integers: cheap to hash and compare) and keeps only
    the pairs whose keys are equal: exact whatever the hashes do (equal keys have equal
    hashes; a collision only adds a candidate that the comparison drops).
    """
    right = table.select(keys).unique().with_columns(_h=_key_hash(keys))
    return (
        frame.select("_row", *keys, _h=_key_hash(keys))
        .join(right.rename({k: f"{k}_r" for k in keys}), on="_h")
        .filter(pl.all_horizontal([pl.col(k) == pl.col(f"{k}_r") for k in keys]))
        .select("_row")
    )


def _lookup(frame: pl.LazyFrame, keys: list[str], table: pl.LazyFrame, name: str) -> pl.LazyFrame:
    """Add the boolean ``name``: whether the row's ``keys`` occur in ``table``.

    Joins the key columns only and puts the flag next to ``frame`` (rows and their order
    kept): a join of the whole frame would move every column of millions of ratings.
    """
    hit = (
        frame.select(keys)
        .join(
            table.select(keys).unique().with_columns(pl.lit(True).alias(name)),
            on=keys,
            how="left",
            maintain_order="left",
        )
        .select(pl.col(name).fill_null(False))
    )
    return pl.concat([frame, hit], how="horizontal")


def _null_flag(name: str) -> pl.Expr:
    return pl.lit(None, dtype=pl.Boolean).alias(name)


def flag_feedback(
    fb: pl.LazyFrame,
    ds: Dataset,
    params: RatingParams,
    *,
    group_members: pl.DataFrame | None = None,
    identity_links: pl.DataFrame | None = None,
) -> pl.LazyFrame:
    """Add the per-feedback evidence flags to buyer -> seller feedback.

    Flags (boolean; null when the input they need is absent):

    - ``top`` / ``positive``: rating >= ``top_rating`` / ``positive_min_rating``;
    - ``from_new_account``: the author's account was younger than
      ``new_account_days`` when it placed the order (needs ``accounts``);
    - ``repeat_rater``: the author rated this seller at least
      ``repeat_min_ratings`` times (shills buy again and again from their store);
    - ``in_group_with_target``: author and seller are members of one detected
      group; ``in_any_group``: the author is in some detected group
      (need ``group_members``);
    - ``linked_to_target``: author and seller are identity-linked (needs
      ``identity_links``);
    - ``perfect_dsr``: all three DSRs are 5 (null when DSRs are missing);
    - ``too_early``: left less than ``min_delivery_days`` after payment, or on
      an unpaid order;
    - ``refunded_after``: at least ``refund_min_fraction`` of the order was
      refunded at or after the feedback (false when there is no ``refunds``
      table: nothing was refunded that we know of).

    Parameters
    ----------
    fb
        Output of :func:`buyer_feedback`.
    ds
        The dataset (for ``accounts`` and ``refunds``).
    params
        Thresholds.
    group_members
        ``group_id, account_id[, role]`` of detected groups, or ``None``.
    identity_links
        ``account_a, account_b, ...`` identity links, or ``None``.

    Returns
    -------
    pl.LazyFrame
        ``fb`` with the flag columns added.

    Examples
    --------
    >>> flagged = flag_feedback(buyer_feedback(ds), ds, RatingParams())  # doctest: +SKIP
    """
    out = base_flags(fb, ds, params)
    return group_flags(out, group_members=group_members, identity_links=identity_links)


def base_flags(fb: pl.LazyFrame, ds: Dataset, params: RatingParams) -> pl.LazyFrame:
    """Add the flags of :func:`flag_feedback` that need no detection result.

    The group-independent half of :func:`flag_feedback` (``top`` to
    ``refunded_after``), so that a scan can compute it while group detection
    runs; :func:`group_flags` adds the rest. Rows stay in their input order, with a
    ``_row`` column (ascending): ``fb``'s own when it has one (:func:`buyer_rows`: the
    position in the feedback table), else the position in ``fb``. When ``fb`` has integer
    ids of its authors and targets (``_uid``, ``_tid``: one id per distinct string), the
    repeat-rater count groups by them instead of by the strings; when it has the authors'
    registration times (``_acct_created``, e.g. looked up once per distinct author, see
    :func:`~graphkit.detect.ratings.rating_base`), they are not looked up again; when it
    has the repeat-rater flag (``_repeat_rater``, counted by the caller), it becomes
    ``repeat_rater``.

    Parameters
    ----------
    fb
        Output of :func:`buyer_feedback` or :func:`buyer_rows`.
    ds
        The dataset (for ``accounts`` and ``refunds``).
    params
        Thresholds.

    Returns
    -------
    pl.LazyFrame
        ``fb`` with ``_row`` and the group-independent flag columns.

    Examples
    --------
    >>> base = base_flags(buyer_rows(ds).lazy(), ds, RatingParams()).collect()  # doctest: +SKIP
    >>> flagged = group_flags(base.lazy())  # doctest: +SKIP
    """
    # every flag is computed in place or looked up on the key columns only and put next to
    # the frame: rows stay in their input order, no column of the frame is moved
    names = fb.collect_schema().names()
    out = fb if "_row" in names else fb.with_row_index("_row")
    # integer ids of author and target when the caller has them (same grouping as the
    # strings): one Int64 key per pair, cheaper to group than two columns of either kind
    pair: list[pl.Expr] = (
        [pl.col("_uid").cast(pl.Int64) * (pl.col("_tid").max() + 1) + pl.col("_tid")]
        if {"_uid", "_tid"} <= set(names)
        else [pl.col("author_id"), pl.col("target_id")]
    )
    repeat = (  # given by the caller (``_repeat_rater``, see rating_base), or counted here
        pl.col("_repeat_rater")
        if "_repeat_rater" in names
        else pl.len().over(*pair) >= params.repeat_min_ratings
    )
    out = out.with_columns(
        top=pl.col("rating") >= params.top_rating,
        positive=pl.col("rating") >= params.positive_min_rating,
        perfect_dsr=pl.all_horizontal([pl.col(c) == 5 for c in DSR_COLUMNS]),
        repeat_rater=repeat,
        too_early=(
            pl.col("paid_at").is_null()
            | (
                (pl.col("created_at") - pl.col("paid_at")).dt.total_microseconds()
                < int(params.min_delivery_days * _US_PER_DAY)
            )
        ),
    ).drop("_repeat_rater", strict=False)

    accounts = ds.get("accounts")
    if accounts is None:
        out = out.with_columns(_null_flag("from_new_account"))
    else:
        if "_acct_created" not in names:  # a hash-map lookup, rows and their order kept
            ages = accounts.select("account_id", "created_at").collect()
            out = out.with_columns(
                pl.col("author_id")
                .replace_strict(ages["account_id"], ages["created_at"], default=None)
                .alias("_acct_created")
            )
        out = out.with_columns(
            from_new_account=(
                (pl.col("order_created_at") - pl.col("_acct_created")).dt.total_microseconds()
                < int(params.new_account_days * _US_PER_DAY)
            )
        ).drop("_acct_created")

    refunds = ds.get("refunds")
    if refunds is None:
        out = out.with_columns(refunded_after=pl.lit(False))
    else:
        # joined on a 64-bit hash of the order id, then the ids compared (exact; see
        # _matching_rows): every rating probes the refunds, integers are cheaper to probe
        key = _key_hash(["order_id"])
        after = (
            out.select("_row", "order_id", "created_at", "amount", _h=key)
            .join(
                refunds.select(
                    pl.col("order_id").alias("_oid"),
                    "refunded_at",
                    pl.col("amount").alias("_ref"),
                    key.alias("_h"),
                ),
                on="_h",
            )
            .filter(
                (pl.col("order_id") == pl.col("_oid"))
                & (pl.col("refunded_at") >= pl.col("created_at"))
            )
            .group_by("_row")
            .agg(pl.col("_ref").sum(), pl.col("amount").first())
            .filter(pl.col("_ref") >= params.refund_min_fraction * pl.col("amount"))
        )
        out = _lookup(out, ["_row"], after, "refunded_after")

    return out


def group_flags(
    out: pl.LazyFrame,
    *,
    group_members: pl.DataFrame | None = None,
    identity_links: pl.DataFrame | None = None,
    authors: pl.Series | None = None,
    targets: pl.Series | None = None,
) -> pl.LazyFrame:
    """Add the flags of :func:`flag_feedback` that need detection results.

    Parameters
    ----------
    out
        Output of :func:`base_flags` (collected or not).
    group_members
        ``group_id, account_id[, role]`` of detected groups, or ``None``.
    identity_links
        ``account_a, account_b, ...`` identity links, or ``None``.
    authors, targets
        The distinct ``author_id`` / ``target_id`` values of ``out``, each at the position
        of its integer id (``out``'s columns ``_uid`` / ``_tid``; e.g.
        :attr:`~graphkit.detect.ratings.RatingBase.authors`). When both are given, the
        members and links are looked up among the distinct accounts once and the rows are
        flagged on their integer ids (no string of the rows is hashed); same flags.

    Returns
    -------
    pl.LazyFrame
        The :func:`flag_feedback` output: every flag, rows in the order of ``out``
        (the input order), no ``_row``.

    Examples
    --------
    >>> base = base_flags(buyer_feedback(ds), ds, RatingParams())  # doctest: +SKIP
    >>> group_flags(base, group_members=None).collect()  # doctest: +SKIP
    """
    if authors is not None and targets is not None:
        flags = _group_flags_on_ids(group_members, identity_links, authors, targets)
        return out.with_columns(flags).drop("_row")
    if group_members is None:
        out = out.with_columns(_null_flag("in_group_with_target"), _null_flag("in_any_group"))
    else:
        gm = group_members.lazy().select(pl.col("group_id", "account_id").cast(pl.String)).unique()
        grouped = _matching_rows(out, ["author_id"], gm.select(author_id="account_id"))
        # the few rows whose author is in a group: is the target in one of its groups?
        same = (
            out.join(grouped, on="_row", how="semi")
            .select("_row", "author_id", "target_id")
            .join(gm, left_on="author_id", right_on="account_id")
            .join(gm, left_on=["target_id", "group_id"], right_on=["account_id", "group_id"])
            .select("_row")
        )
        out = _lookup(out, ["_row"], same, "in_group_with_target")
        out = _lookup(out, ["_row"], grouped, "in_any_group")

    if identity_links is None:
        out = out.with_columns(_null_flag("linked_to_target"))
    else:
        linked = _matching_rows(out, ["author_id", "target_id"], _both_ways(identity_links))
        out = _lookup(out, ["_row"], linked, "linked_to_target")
    return out.drop("_row")


def _both_ways(identity_links: pl.DataFrame) -> pl.LazyFrame:
    """``author_id, target_id``: each identity link in both directions."""
    links = identity_links.lazy().select(pl.col("account_a", "account_b").cast(pl.String))
    return pl.concat(
        [
            links.select(
                pl.col("account_a").alias("author_id"), pl.col("account_b").alias("target_id")
            ),
            links.select(
                pl.col("account_b").alias("author_id"), pl.col("account_a").alias("target_id")
            ),
        ]
    )


def _positions(values: pl.Series, accounts: pl.Series, name: str) -> pl.DataFrame:
    """``account_id`` and its position ``name`` (Int64) for each of ``values`` in ``accounts``."""
    pos = values.is_in(accounts.implode()).fill_null(False).arg_true()
    return pl.DataFrame({"account_id": values.gather(pos), name: pos.cast(pl.Int64)})


def _group_flags_on_ids(
    group_members: pl.DataFrame | None,
    identity_links: pl.DataFrame | None,
    authors: pl.Series,
    targets: pl.Series,
) -> list[pl.Expr]:
    """Return the three flags of :func:`group_flags` as expressions on ``_uid`` / ``_tid``.

    Members and links are matched with the distinct accounts (strings compared exactly by
    the joins); each hit becomes an integer author id, or an integer (author, target) pair
    key ``_uid * len(targets) + _tid``, and the rows are flagged by integer set membership.
    """
    n_t = max(len(targets), 1)
    pair = pl.col("_uid").cast(pl.Int64) * n_t + pl.col("_tid").cast(pl.Int64)

    def member(keys: pl.Series, expr: pl.Expr, name: str) -> pl.Expr:
        return expr.is_in(pl.lit(keys).implode()).fill_null(False).alias(name)

    authors = authors.cast(pl.String)
    targets = targets.cast(pl.String)
    flags: list[pl.Expr] = []
    if group_members is None:
        flags += [_null_flag("in_group_with_target"), _null_flag("in_any_group")]
    else:
        gm = group_members.select(pl.col("group_id", "account_id").cast(pl.String)).unique()
        accounts = gm.get_column("account_id")
        by_author = _positions(authors, accounts, "_uid").join(gm, on="account_id")
        by_target = _positions(targets, accounts, "_tid").join(gm, on="account_id")
        same = (  # (author, target) of one group
            by_author.join(by_target, on="group_id")
            .select((pl.col("_uid") * n_t + pl.col("_tid")).alias("_k"))
            .unique()
        )
        flags += [
            member(same.get_column("_k"), pair, "in_group_with_target"),
            member(
                by_author.get_column("_uid").unique(),
                pl.col("_uid").cast(pl.Int64),
                "in_any_group",
            ),
        ]
    if identity_links is None:
        flags.append(_null_flag("linked_to_target"))
    else:
        both = _both_ways(identity_links).collect()
        accounts = pl.concat([both.get_column("author_id"), both.get_column("target_id")])
        linked = (
            both.join(
                _positions(authors, accounts, "_uid").rename({"account_id": "author_id"}),
                on="author_id",
            )
            .join(
                _positions(targets, accounts, "_tid").rename({"account_id": "target_id"}),
                on="target_id",
            )
            .select((pl.col("_uid") * n_t + pl.col("_tid")).alias("_k"))
            .unique()
        )
        flags.append(member(linked.get_column("_k"), pair, "linked_to_target"))
    return flags


def seller_origins(
    ds: Dataset,
    params: RatingParams,
    *,
    sellers: pl.Series | None = None,
    created: pl.Series | None = None,
) -> pl.LazyFrame:
    """Where each seller's observable rating history starts (for burst baselines).

    A dataset is a window cut out of a marketplace's life: a seller that existed
    before the first order of the dataset has an unobserved (censored) history,
    and feedback lags its orders, so the first ``burst_warmup_days`` of a dataset
    under-count every seller. A seller created inside the dataset has a true
    beginning: its history starts at its registration.

    Parameters
    ----------
    ds
        The dataset (``orders``; ``accounts`` when present).
    params
        Thresholds (``burst_warmup_days``).
    sellers
        The sellers to describe (e.g. the targets of the buyer feedback); every
        seller of an order when ``None`` (reads the orders' ``seller_id`` column).
    created
        The registration time (``accounts.created_at``, null when unknown) of each of
        ``sellers`` (same positions; distinct ``sellers`` then), when the caller looked
        them up already; read from ``accounts`` when ``None``.

    Returns
    -------
    pl.LazyFrame
        ``target_id, end_day`` (``ds.as_of``), ``origin_day`` (days since epoch,
        Int32) and ``new_seller`` (registered after the dataset starts; false
        without ``accounts``) for every seller of an order (or of ``sellers``).

    Examples
    --------
    >>> seller_origins(ds, RatingParams()).collect()  # doctest: +SKIP
    """
    start = ds.orders.select(pl.col("created_at").min().dt.epoch("d").cast(pl.Int32).alias("start"))
    ids = (
        ds.orders.select(pl.col("seller_id").alias("target_id")).unique()
        if sellers is None
        else pl.LazyFrame({"target_id": sellers.cast(pl.String)}).unique()
    )
    accounts = ds.get("accounts")
    if accounts is not None and sellers is not None and created is not None:
        days = pl.LazyFrame(
            {
                "target_id": sellers.cast(pl.String),
                "created_day": created.dt.epoch("d").cast(pl.Int32),
            }
        )
    elif accounts is None:
        days = ids.with_columns(created_day=pl.lit(None, dtype=pl.Int32))
    else:
        days = ids.join(
            accounts.select(
                pl.col("account_id").alias("target_id"),
                pl.col("created_at").dt.epoch("d").cast(pl.Int32).alias("created_day"),
            ),
            on="target_id",
            how="left",
        )
    new = (pl.col("created_day") > pl.col("start")).fill_null(False)
    end = int(pl.Series([ds.as_of]).dt.epoch("d").item())
    return days.join(start, how="cross").select(
        "target_id",
        pl.lit(end, dtype=pl.Int32).alias("end_day"),
        pl.when(new)
        .then(pl.col("created_day"))
        .otherwise(pl.col("start") + params.burst_warmup_days)
        .cast(pl.Int32)
        .alias("origin_day"),
        new.alias("new_seller"),
    )


def seller_bursts(
    fb: pl.LazyFrame, params: RatingParams, origins: pl.LazyFrame
) -> tuple[pl.LazyFrame, pl.LazyFrame]:
    """Bursts of top ratings per seller against the seller's own baseline.

    For every day a seller received top ratings, the count in the window of
    ``burst_window_days`` ending that day is compared with the count expected
    from the seller's own rate, the larger of its rate in the
    ``burst_baseline_days`` before the window (counted from the seller's origin,
    :func:`seller_origins`) and in as many days after it (up to ``as_of``), and
    never below ``burst_floor_per_day``. The rate after the window is what
    separates a store that grows (it keeps the new level) from a bought burst
    (it falls back). A side with less than ``burst_min_baseline_days`` observed
    is ignored; with neither side observed the window is judged against the
    floor only for a seller registered inside the dataset (a new store has no
    past), otherwise it is not judged (ratio null).

    Parameters
    ----------
    fb
        Flagged buyer feedback (needs ``target_id``, ``created_at``, ``top``).
    params
        Thresholds.
    origins
        Output of :func:`seller_origins`; with the integer seller ids ``_tid`` of ``fb``
        (then covering every seller of ``fb``), days are matched with origins on them.

    Returns
    -------
    sellers : pl.LazyFrame
        Per seller with top ratings: ``burst_count``, ``burst_expected``,
        ``burst_ratio`` (the window with the largest ratio among judged windows
        with at least ``burst_min_count`` top ratings; nulls if none),
        ``burst_end`` (its last day) and ``burst_days`` (days ending a burst).
    burst_ends : pl.LazyFrame
        ``target_id, day`` (days since epoch, Int32) of every window that is
        a burst: at least ``burst_min_count`` and ``burst_min_ratio`` x expected;
        with ``_tid`` too when ``fb`` has the integer seller ids ``_tid``.

    Examples
    --------
    >>> sellers, ends = seller_bursts(flagged, RatingParams(), origins)  # doctest: +SKIP
    """
    w, b = params.burst_window_days, params.burst_baseline_days
    day = pl.col("created_at").dt.epoch("d").cast(pl.Int32)
    floor = pl.lit(params.burst_floor_per_day)
    hist, ahead = pl.col("hist"), pl.col("ahead")
    trailing = pl.when(hist >= params.burst_min_baseline_days).then(
        (pl.col("span") - pl.col("win")) / hist
    )
    leading = pl.when(ahead >= params.burst_min_baseline_days).then(pl.col("next") / ahead)
    judged = trailing.is_not_null() | leading.is_not_null() | pl.col("new_seller")
    top = fb.filter(pl.col("top"))
    on = "target_id"  # how the days find their seller's origin
    if {"_tid"} <= set(fb.collect_schema().names()) & set(origins.collect_schema().names()):
        # integer seller ids on both sides: days grouped and matched with origins on them
        # (the seller's string comes with its origin)
        per_day = top.group_by(pl.col("_tid").alias("_sid"), day.alias("day")).agg(
            pl.len().cast(pl.Int64).alias("n")
        )
        origins, on = origins.rename({"_tid": "_sid"}), "_sid"
    elif "_tid" in fb.collect_schema().names():  # integer seller ids given: group by them
        per_day = top.group_by(pl.col("_tid").alias("_sid"), day.alias("day")).agg(
            pl.len().cast(pl.Int64).alias("n"), pl.col("target_id").first()
        )
    else:
        per_day = top.group_by("target_id", day.alias("day")).agg(
            pl.len().cast(pl.Int64).alias("n")
        )
        sids = per_day.select("target_id").unique().sort("target_id").with_row_index("_sid")
        per_day = per_day.join(sids, on="target_id")
    # one integer key per (seller, day), sellers 2**32 apart: every rolling window below runs
    # over one sorted integer column (no string sorts, no per-seller groups) and never
    # reaches into the next seller (days span far less than 2**31); which integer a seller
    # gets does not matter (every result is per seller)
    key = pl.col("_sid").cast(pl.Int64) * (1 << 32) + (pl.col("day") - pl.col("day").min())
    n = pl.col("n")
    daily = (
        per_day.with_columns(_key=key)
        .sort("_key")
        .with_columns(
            next=n.reverse().rolling_sum_by((-pl.col("_key")).reverse(), f"{b + 1}i").reverse() - n,
            win=n.rolling_sum_by("_key", f"{w}i"),
            span=n.rolling_sum_by("_key", f"{w + b}i"),
        )
        .join(origins, on=on, how="left")
        .with_columns(
            hist=(pl.col("day") - w + 1 - pl.col("origin_day")).clip(0, b),
            ahead=(pl.col("end_day") - pl.col("day")).clip(0, b),
            new_seller=pl.col("new_seller").fill_null(False),
        )
        .with_columns(
            burst_expected=pl.when(judged).then(pl.max_horizontal(floor, trailing, leading) * w)
        )
        .with_columns(ratio=pl.col("win") / pl.col("burst_expected"))
        .with_columns(
            is_burst=(
                (pl.col("win") >= params.burst_min_count)
                & (pl.col("ratio") >= params.burst_min_ratio)
            ).fill_null(False)
        )
    )
    eligible = daily.filter(
        (pl.col("win") >= params.burst_min_count) & pl.col("ratio").is_not_null()
    )
    best = (
        eligible.sort(["_sid", "ratio", "win", "day"], descending=[False, True, True, False])
        .group_by("_sid", maintain_order=True)
        .first()
        .select(
            "target_id",
            pl.col("win").alias("burst_count"),
            "burst_expected",
            pl.col("ratio").alias("burst_ratio"),
            pl.col("day").alias("burst_end_day"),
        )
    )
    n_days = daily.group_by("_sid").agg(
        pl.col("target_id").first(), pl.col("is_burst").sum().cast(pl.Int64).alias("burst_days")
    )
    sellers = (
        n_days.drop("_sid")
        .join(best, on="target_id", how="left")
        .with_columns(
            burst_end=pl.col("burst_end_day")
            .cast(pl.Int64)
            .mul(_US_PER_DAY)
            .cast(pl.Datetime("us", "UTC"))
        )
        .drop("burst_end_day")
    )
    ids = "_tid" in fb.collect_schema().names()
    ends = daily.filter(pl.col("is_burst")).select(
        "target_id", "day", *([pl.col("_sid").alias("_tid")] if ids else [])
    )
    return sellers, ends


def in_burst_flag(fb: pl.LazyFrame, burst_ends: pl.LazyFrame, params: RatingParams) -> pl.LazyFrame:
    """Flag top feedback that falls inside a burst window of its seller (``in_burst``).

    Parameters
    ----------
    fb
        Flagged buyer feedback.
    burst_ends
        Second output of :func:`seller_bursts`.
    params
        Thresholds (``burst_window_days``).

    Returns
    -------
    pl.LazyFrame
        ``fb`` plus the boolean ``in_burst``.

    Examples
    --------
    >>> fb = in_burst_flag(flagged, ends, RatingParams())  # doctest: +SKIP
    """
    w = params.burst_window_days
    # the integer seller ids when both sides have them (no string hashing of every rating)
    seller = "_tid" if "_tid" in burst_ends.collect_schema().names() else "target_id"
    seller = seller if seller in fb.collect_schema().names() else "target_id"
    days = pl.int_ranges(pl.col("day") - w + 1, pl.col("day") + 1, dtype=pl.Int32)
    if seller == "_tid":
        # one Int64 key per (seller, day), sellers 2**32 apart (days are Int32): the flag is
        # a set membership of every rating's key, no join and nothing moved
        def key(day: pl.Expr) -> pl.Expr:
            return pl.col("_tid").cast(pl.Int64) * (1 << 32) + day.cast(pl.Int64)

        covered = (
            burst_ends.select("_tid", days.alias("_day"))
            .explode("_day")
            .select(key(pl.col("_day")).alias("_k"))
            .unique()
        )
        day = pl.col("created_at").dt.epoch("d").cast(pl.Int32)
        hit = key(day).is_in(covered.collect().get_column("_k").implode())
        return fb.with_columns(in_burst=hit.fill_null(False) & pl.col("top"))
    covered = (
        burst_ends.select(seller, days.alias("_day"))
        .explode("_day")
        .unique()
        .with_columns(in_burst=pl.lit(True))
    )
    # join only the key columns and put the flag next to ``fb``: a left join of the whole
    # frame would copy every column of millions of ratings
    flag = (
        fb.select(seller, "top", _day=pl.col("created_at").dt.epoch("d").cast(pl.Int32))
        .join(covered, on=[seller, "_day"], how="left", maintain_order="left")
        .select(in_burst=pl.col("in_burst").fill_null(False) & pl.col("top"))
    )
    return pl.concat([fb, flag], how="horizontal")


def _n(cond: pl.Expr) -> pl.Expr:
    """Count of rows where ``cond`` is true (nulls do not count), as Int64."""
    return cond.fill_null(False).sum().cast(pl.Int64)


def _n_known(flag: str, where: pl.Expr) -> pl.Expr:
    """Count rows where ``where`` and ``flag`` hold, or null when ``flag`` was not computed."""
    return pl.when(pl.col(flag).is_not_null().any()).then(_n(where & pl.col(flag)))


def seller_counts(fb: pl.LazyFrame) -> pl.LazyFrame:
    """Aggregate flagged buyer feedback into integer counts per seller.

    Only integer sums and counts are produced here (exact and order
    independent, so byte-identical across runs); means and shares are formed
    from them afterwards.

    Parameters
    ----------
    fb
        Flagged buyer feedback with ``traded`` and ``in_burst``.

    Returns
    -------
    pl.LazyFrame
        One row per seller (``seller_id``) with ``n_ratings``, ``n_top``,
        ``n_positive``, per dimension ``n_<dim>``, ``sum_<dim>`` and
        ``c<k>_<dim>`` (count of rating ``k``), and the flag counts ``n_top_new``,
        ``n_top_group``, ``n_top_any_group``, ``n_top_linked``,
        ``n_top_refunded``, ``n_top_repeat``, ``n_top_traded``, ``n_early``, ``n_dsr_triples``,
        ``n_perfect``, ``n_in_burst``. (The counts that depend on ``suspicious`` are
        :func:`reliable_counts`.)

    Examples
    --------
    >>> counts = seller_counts(flagged).collect()  # doctest: +SKIP
    """
    aggs = _count_aggs()
    return _per_seller(fb, [aggs[c] for c in COUNT_COLUMNS])


def _count_aggs() -> dict[str, pl.Expr]:
    """Return the aggregation of each of :data:`COUNT_COLUMNS`, by name."""
    top = pl.col("top")
    aggs: list[pl.Expr] = [
        pl.len().cast(pl.Int64).alias("n_ratings"),
        _n(top).alias("n_top"),
        _n(pl.col("positive")).alias("n_positive"),
    ]
    for d in DIMENSIONS:
        v = pl.col(d).cast(pl.Int64)
        aggs += [
            pl.col(d).count().cast(pl.Int64).alias(f"n_{d}"),
            v.sum().alias(f"sum_{d}"),
        ]
        aggs += [_n(pl.col(d) == k).alias(f"c{k}_{d}") for k in range(1, 6)]
    aggs += [
        _n_known("from_new_account", top).alias("n_top_new"),
        *[_n_known(flag, top).alias(name) for name, flag in _GROUP_COUNTS.items()],
        _n(top & pl.col("refunded_after")).alias("n_top_refunded"),
        _n(top & pl.col("repeat_rater")).alias("n_top_repeat"),
        _n(top & pl.col("traded")).alias("n_top_traded"),
        _n(pl.col("too_early")).alias("n_early"),
        _n(pl.col("perfect_dsr").is_not_null()).alias("n_dsr_triples"),
        _n(pl.col("perfect_dsr")).alias("n_perfect"),
        _n(pl.col("in_burst")).alias("n_in_burst"),
    ]
    return {a.meta.output_name(): a for a in aggs}


#: The counts of :func:`seller_counts` that need detection results (top ratings from a
#: group member with the seller, from any group member, from an identity-linked account;
#: null for a seller whose flag is null on every rating), and the flag each counts.
_GROUP_COUNTS: dict[str, str] = {
    "n_top_group": "in_group_with_target",
    "n_top_any_group": "in_any_group",
    "n_top_linked": "linked_to_target",
}
#: The columns of :func:`seller_counts` after ``seller_id``, in order.
COUNT_COLUMNS: tuple[str, ...] = (
    "n_ratings",
    "n_top",
    "n_positive",
    *[c for d in DIMENSIONS for c in (f"n_{d}", f"sum_{d}", *[f"c{k}_{d}" for k in range(1, 6)])],
    "n_top_new",
    *_GROUP_COUNTS,
    "n_top_refunded",
    "n_top_repeat",
    "n_top_traded",
    "n_early",
    "n_dsr_triples",
    "n_perfect",
    "n_in_burst",
)


def seller_base_counts(fb: pl.LazyFrame) -> pl.LazyFrame:
    """Count per seller what :func:`seller_counts` counts without detection results.

    Every column of :func:`seller_counts` but ``n_top_group``, ``n_top_any_group``,
    ``n_top_linked`` and ``n_top_traded`` (:func:`add_group_counts` adds them once the
    groups, links and trades are known), so that a scan counts the millions of ratings
    while group detection runs.

    Parameters
    ----------
    fb
        Buyer feedback with the flags of :func:`base_flags` and ``in_burst``.

    Returns
    -------
    pl.LazyFrame
        One row per seller, rows in no set order: ``seller_id``, ``_tid`` when ``fb`` has
        the integer seller ids ``_tid``, and the counts.

    Examples
    --------
    >>> counts = seller_base_counts(base.flags.lazy()).collect()  # doctest: +SKIP
    """
    aggs = _count_aggs()
    names = [c for c in COUNT_COLUMNS if c not in _GROUP_COUNTS and c != "n_top_traded"]
    if "_tid" in fb.collect_schema().names():
        return (
            fb.group_by("_tid")
            .agg(pl.col("target_id").first().alias("seller_id"), *[aggs[c] for c in names])
            .select("seller_id", "_tid", *names)
        )
    return fb.group_by(pl.col("target_id").alias("seller_id")).agg([aggs[c] for c in names])


def add_group_counts(counts: pl.DataFrame, fb: pl.DataFrame) -> pl.DataFrame:
    """Add the detection-dependent counts of :func:`seller_counts` to :func:`seller_base_counts`.

    Only the ratings that count somewhere (a top rating carrying a group, link or traded
    flag, or a null flag) are grouped; the result equals :func:`seller_counts` of ``fb``.

    Parameters
    ----------
    counts
        Collected :func:`seller_base_counts` of the same ratings.
    fb
        The ratings with the flags of :func:`group_flags` and ``traded``.

    Returns
    -------
    pl.DataFrame
        ``counts`` (rows in its order) with the columns of :func:`seller_counts` in its
        order (``_tid`` kept after ``seller_id`` when ``counts`` has it).

    Examples
    --------
    >>> counts = add_group_counts(base_counts, flagged)  # doctest: +SKIP
    """
    key = "_tid" if "_tid" in counts.columns and "_tid" in fb.columns else None
    top = pl.col("top").fill_null(False)
    flags = {**_GROUP_COUNTS, "n_top_traded": "traded"}
    # a flag null on some rows only: per seller, null when null on all its rows
    partial = [f for f in _GROUP_COUNTS.values() if 0 < fb.get_column(f).null_count() < fb.height]
    keep = pl.any_horizontal(
        [top & pl.col(f).fill_null(False) for f in flags.values()]
        + [pl.col(f).is_null() for f in partial]
    )
    aggs = [_n(top & pl.col(f)).alias(name) for name, f in flags.items()]
    aggs += [_n(pl.col(f).is_null()).alias(f"_null_{f}") for f in partial]
    hits = (  # the few rows, with the columns counted only
        fb.select(key or "target_id", "top", *flags.values())
        .filter(keep)
        .group_by(pl.col(key) if key else pl.col("target_id").alias("seller_id"))
        .agg(aggs)
    )
    out = counts.join(hits, on=key or "seller_id", how="left", maintain_order="left")
    cols: list[pl.Expr] = []
    for name, f in flags.items():
        n = pl.col(name).fill_null(0)
        if name in _GROUP_COUNTS and fb.get_column(f).null_count() == fb.height:
            n = pl.lit(None, dtype=pl.Int64)  # not computed: null for every seller
        elif f in partial:
            n = pl.when(pl.col(f"_null_{f}").fill_null(0) < pl.col("n_ratings")).then(n)
        cols.append(n.alias(name))
    return out.with_columns(cols).select("seller_id", *([key] if key else []), *COUNT_COLUMNS)


def _per_seller(fb: pl.LazyFrame, aggs: list[pl.Expr]) -> pl.LazyFrame:
    """``fb.group_by(seller).agg(aggs)`` with ``seller_id`` first, rows in no set order.

    Groups by the integer seller ids (``_tid``) when ``fb`` has them (one per distinct
    ``target_id``: the same groups, without hashing millions of strings).
    """
    if "_tid" in fb.collect_schema().names():
        return (
            fb.group_by("_tid")
            .agg(pl.col("target_id").first().alias("seller_id"), *aggs)
            .drop("_tid")
        )
    return fb.group_by(pl.col("target_id").alias("seller_id")).agg(aggs)


def reliable_counts(fb: pl.LazyFrame) -> pl.LazyFrame:
    """Per seller: suspicious ratings, and sums over the reliable (not suspicious) ones.

    Parameters
    ----------
    fb
        Flagged buyer feedback with the boolean ``suspicious``.

    Returns
    -------
    pl.LazyFrame
        ``seller_id``, ``n_suspicious`` and per dimension ``sum_<dim>_reliable``
        and ``n_<dim>_reliable``.

    Examples
    --------
    >>> reliable_counts(flagged).collect()  # doctest: +SKIP
    """
    # masks instead of .filter() inside the aggregation: the filtered form runs per group
    reliable = (~pl.col("suspicious")).fill_null(False)
    aggs: list[pl.Expr] = [_n(pl.col("suspicious")).alias("n_suspicious")]
    for d in DIMENSIONS:
        aggs += [
            pl.when(reliable).then(pl.col(d).cast(pl.Int64)).sum().alias(f"sum_{d}_reliable"),
            _n(reliable & pl.col(d).is_not_null()).alias(f"n_{d}_reliable"),
        ]
    return _per_seller(fb, aggs)


def add_reliable_counts(counts: pl.DataFrame, fb: pl.DataFrame) -> pl.DataFrame:
    """Add the columns of :func:`reliable_counts` to :func:`seller_counts`, from few rows.

    The reliable sums and counts are the seller's totals minus those of its ratings that
    are not reliable (``suspicious`` true or null): only those few ratings are grouped.
    Integer arithmetic, so the numbers equal :func:`reliable_counts` of ``fb``.

    Parameters
    ----------
    counts
        Collected :func:`seller_counts` (or :func:`add_group_counts`) of the same ratings,
        with ``n_<dim>`` and ``sum_<dim>``.
    fb
        The ratings with the boolean ``suspicious``.

    Returns
    -------
    pl.DataFrame
        ``counts`` (rows in its order) followed by ``n_suspicious`` and per dimension
        ``sum_<dim>_reliable`` and ``n_<dim>_reliable``.

    Examples
    --------
    >>> counts = add_reliable_counts(counts, flagged)  # doctest: +SKIP
    """
    key = "_tid" if "_tid" in counts.columns and "_tid" in fb.columns else None
    aggs: list[pl.Expr] = [_n(pl.col("suspicious")).alias("n_suspicious")]
    for d in DIMENSIONS:
        aggs += [
            pl.col(d).cast(pl.Int64).sum().alias(f"_sum_{d}"),
            pl.col(d).count().cast(pl.Int64).alias(f"_n_{d}"),
        ]
    unreliable = (
        fb.select(key or "target_id", "suspicious", *DIMENSIONS)
        .filter(pl.col("suspicious").fill_null(True))
        .group_by(pl.col(key) if key else pl.col("target_id").alias("seller_id"))
        .agg(aggs)
    )
    cols: list[pl.Expr] = [pl.col("n_suspicious").fill_null(0)]
    for d in DIMENSIONS:
        cols += [
            (pl.col(f"sum_{d}") - pl.col(f"_sum_{d}").fill_null(0)).alias(f"sum_{d}_reliable"),
            (pl.col(f"n_{d}") - pl.col(f"_n_{d}").fill_null(0)).alias(f"n_{d}_reliable"),
        ]
    return counts.join(unreliable, on=key or "seller_id", how="left", maintain_order="left").select(
        *counts.columns, *cols
    )


def population_stats(counts: pl.DataFrame) -> dict[str, float]:
    """Compute population shares and rating distributions from the per-seller counts.

    This is the one whole-dataset stage of the seller features: a handful of
    numbers, computed once and passed to the per-seller expressions.

    Parameters
    ----------
    counts
        Collected output of :func:`seller_counts`.

    Returns
    -------
    dict
        ``mean_<dim>``; ``p<k>_<dim>`` (Laplace-smoothed population share of
        rating ``k``); the shares ``new``, ``group``, ``any_group``,
        ``linked``, ``refunded``, ``repeat``, ``traded`` (of top ratings), ``early`` (of
        all ratings) and ``perfect`` (of DSR triples); ``nan`` when undefined.

    Examples
    --------
    >>> pop = population_stats(counts)  # doctest: +SKIP
    """
    tot = counts.select(pl.exclude("seller_id").sum()).row(0, named=True)

    def ratio(a: str, b: str) -> float:
        num, den = tot[a], tot[b]
        return float(num) / float(den) if den and num is not None else float("nan")

    out: dict[str, float] = {}
    for d in DIMENSIONS:
        out[f"mean_{d}"] = ratio(f"sum_{d}", f"n_{d}")
        n = tot[f"n_{d}"] or 0
        for k in range(1, 6):
            out[f"p{k}_{d}"] = (float(tot[f"c{k}_{d}"] or 0) + 1.0) / (float(n) + 5.0)
    for key, col, den in (
        ("new", "n_top_new", "n_top"),
        ("group", "n_top_group", "n_top"),
        ("any_group", "n_top_any_group", "n_top"),
        ("linked", "n_top_linked", "n_top"),
        ("refunded", "n_top_refunded", "n_top"),
        ("repeat", "n_top_repeat", "n_top"),
        ("traded", "n_top_traded", "n_top"),
        ("early", "n_early", "n_ratings"),
        ("perfect", "n_perfect", "n_dsr_triples"),
    ):
        out[key] = ratio(col, den)
    return out


def smoothed_share(x: str | pl.Expr, n: str | pl.Expr, prior: float, strength: float) -> pl.Expr:
    """Beta-binomial posterior mean of a share: ``(x + m p0) / (n + m)``.

    Examples
    --------
    >>> pl.select(smoothed_share(pl.lit(5), pl.lit(5), 0.7, 10.0)).item()
    0.8
    """
    x = pl.col(x) if isinstance(x, str) else x
    n = pl.col(n) if isinstance(n, str) else n
    return (x.cast(pl.Float64) + strength * prior) / (n.cast(pl.Float64) + strength)


def smoothed_mean(total: str, n: str, prior_mean: float, strength: float) -> pl.Expr:
    """Bayesian-smoothed mean rating: ``(sum + m mu) / (n + m)``; null when ``n`` is 0.

    Examples
    --------
    >>> pl.select(smoothed_mean(pl.lit(25), pl.lit(5), 4.0, 5.0)).item()  # doctest: +SKIP
    4.5
    """
    t, c = pl.col(total).cast(pl.Float64), pl.col(n).cast(pl.Float64)
    return pl.when(c > 0).then((t + strength * prior_mean) / (c + strength))


def kl_divergence(dim: str, pop: dict[str, float], strength: float) -> pl.Expr:
    """KL divergence (nats) of a seller's smoothed rating distribution from the population's.

    The seller's distribution is the Dirichlet posterior mean
    ``(c_k + m pi_k) / (n + m)`` (BIRDNEST-style), so few ratings stay close
    to the population and diverge little. Null when the seller has no value
    in this dimension.

    Examples
    --------
    >>> pop = {f"p{k}_rating": p for k, p in zip(range(1, 6), [.1, .05, .05, .1, .7])}
    >>> cnt = {f"c{k}_rating": [5 * (k == 5)] for k in range(1, 6)}
    >>> df = pl.DataFrame({"n_rating": [5], **cnt})
    >>> round(df.select(kl_divergence("rating", pop, 10.0)).item(), 3)
    0.026
    """
    n = pl.col(f"n_{dim}").cast(pl.Float64)
    terms = []
    for k in range(1, 6):
        pi = pop[f"p{k}_{dim}"]
        p = (pl.col(f"c{k}_{dim}").cast(pl.Float64) + strength * pi) / (n + strength)
        terms.append(p * (p / pi).log())
    return pl.when(n > 0).then(pl.sum_horizontal(terms))
