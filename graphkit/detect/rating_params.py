"""Thresholds and priors of the rating-pattern detectors, declared once.

Every number the rating signals are judged against lives in
:class:`RatingParams`, with its default and the reason for it, so an
investigator can quote it and a scan can override it.

Examples
--------
>>> from graphkit.detect.rating_params import RatingParams
>>> p = RatingParams(min_delivery_days=5.0)
>>> p.min_delivery_days, p.top_rating
(5.0, 5)
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["RatingParams"]


@dataclass(frozen=True)
class RatingParams:
    """Every threshold and prior of :func:`graphkit.detect.ratings.rating_signals`.

    Shares are smoothed toward the population share with ``prior_strength``
    pseudo-ratings (beta-binomial / Dirichlet smoothing, BIRDNEST-style) before
    they are compared with a threshold, so a seller with five ratings is never
    flagged for having five 5s. A share signal fires when the smoothed share is
    at least ``max(<x>_min_share, <x>_lift * population share)``.

    Parameters
    ----------
    top_rating
        Rating counted as "top" (5): inflation is made of top ratings.
    positive_min_rating
        Lowest rating that can inflate a reputation (4); only ratings at or
        above it can be marked ``suspicious`` (an honest 1-star that REV2
        finds out of line is not evidence of manipulation).
    prior_strength
        Pseudo-ratings of the population prior added to every seller (10): a
        seller needs about this many ratings before its own data dominates.
    new_account_days
        An author whose account was younger than this when placing the order is
        "new" (30 days: fresh accounts are the cheapest sock puppets).
    repeat_min_ratings
        An author who rated the same seller at least this often is a "repeat
        rater" (3: honest buyers rarely rate one store three times, shills do).
    min_flagged
        A share signal needs at least this many flagged ratings to fire (3:
        one or two coincidences on a small seller are noise, not a pattern).
    min_delivery_days
        Buyer feedback earlier than this after payment is "too early": the
        item cannot have arrived (2 days: faster than any cross-border
        shipping; feedback on an unpaid order is always too early).
    refund_min_fraction
        A refund after the feedback counts when it returns at least this
        fraction of the order amount (0.5: a paid rating is normally refunded
        in full, a partial goodwill refund is not a payment for a rating).
    burst_window_days
        Width of the window in which bursts of top ratings are counted (3 days).
    burst_baseline_days
        Trailing period before the window that gives the seller's own baseline
        rate (28 days: four weeks smooths weekly cycles).
    burst_min_baseline_days
        Below this much observed history the baseline is not trusted: a seller
        registered inside the dataset is judged against ``burst_floor_per_day``,
        an older seller whose past the dataset cuts off is not judged (7 days).
    burst_warmup_days
        The first days of a dataset, in which feedback on orders placed before
        it is missing, do not count as a seller's history (14 days: most
        feedback arrives within two weeks of payment).
    burst_floor_per_day
        Lowest baseline rate of top ratings per day assumed for any seller (1.0):
        a new seller is not flagged for its first handful of ratings.
    burst_min_count
        A burst needs at least this many top ratings in the window (10).
    burst_min_ratio
        ... and at least this many times the count expected from the baseline
        (5x: an honest seller growing fast doubles or triples, a ring jumps
        an order of magnitude).
    divergence_min
        Mean Kullback-Leibler divergence (nats) of the smoothed rating and DSR
        distributions from the population's that fires the divergence signal
        (only for sellers rated above the population mean: a bad store diverges
        too, but downward, and that is not inflation)
        (0.15: an honest seller's sampling noise after smoothing gives ~0.02 and an
        excellent seller with 90% 5s in a 70%-5s population ~0.12; almost only 5s gives
        ~0.3).
    new_share_min, new_share_lift
        Smoothed share of top ratings from new accounts: at least 0.4 and 3x
        the population's.
    group_share_min, group_share_lift
        Share of top ratings from accounts in a detected group with the
        seller: at least 0.15 and 3x the population's.
    linked_share_min, linked_share_lift
        Share of top ratings from accounts identity-linked to the seller:
        at least 0.1 and 3x the population's (an identity link to the store is
        strong evidence; honest sellers have very few such ratings).
    perfect_share_min, perfect_share_lift
        Share of ratings with a perfect 5/5/5 DSR triple: at least 0.9, and the
        share of *imperfect* triples at most a third of the population's (the
        population is J-shaped already, so the lift applies to what is left;
        this is a weak signal on its own).
    early_share_min, early_share_lift
        Share of ratings left too early: at least 0.1 and 3x the population's.
    refunded_share_min, refunded_share_lift
        Share of top ratings on orders refunded afterwards: at least 0.12 and
        3x the population's (honest stores refund a few percent of orders,
        some after a positive rating: population ~1.2%, the most refunding
        organic stores <= 10% smoothed in the simulated development runs; paid
        ratings refunded afterwards make 21-53% of a store's top ratings, and a
        threshold of 0.2 left the 21% store at a third of the signal's weight).
    repeat_share_min, repeat_share_lift
        Share of top ratings from repeat raters: at least 0.3 and 3x the
        population's.
    unreliable_share_min
        Share of the seller's positive ratings marked suspicious that fires
        the inflation signal (0.2).
    trading_min_per_direction
        Reciprocal top feedback needed in each direction between two sellers'
        sides to call it feedback trading (1: one trade each way is already
        a trade; the pair table shows how many).
    trading_share_min
        Smoothed share of the seller's top ratings that are traded from which the
        trading signal fires (0.05: a circle lifts its small stores' reputation with a
        fifth to a half of their top ratings; a dominant store where a circle's accounts
        also shop has a few traded ratings among thousands, and they do not make its
        reputation).
    trading_ties_from_groups
        Whether membership in a detected group with a seller ties an account
        to that seller for trading (True). Identity links always tie.
    group_min_score
        When the detected groups' table is given (``groups``), groups scoring at
        least this count for the group signals and the trading ties on their own
        (0.5: group detection reports every candidate, and the weak candidates are
        mostly organic clusters of a store and its regular buyers; see
        ``benchmarks/RESULTS.md``, rating signals, with and without); a weaker group
        counts around a store that such a group holds, or as a trading circle
        (``circle_min_*``; :func:`graphkit.detect.rating_trading.ring_group_members`).
    group_young_store_min_score
        A detected group whose stores all made their first sale within
        ``DetectParams.young_store_days`` of registering (its ``young_stores`` signal)
        counts on its own from this score (0.4: building a new store's reputation is what
        rings are for; a camouflaged ring around a 27-day-old store scored 0.40 at simulated
        100k seed 14, while 0.4 for every group named 4 organic accounts at 1M seed 0).
    circle_min_sellers, circle_min_perfect_share
        A detected group scoring below ``group_min_score`` still counts when it spans at
        least 2 stores and its buyers' ratings of those stores are at least 75% perfect
        5/5/5 DSR triples (with ``min_flagged`` ratings at least): a trading circle's
        accounts rate its stores perfectly, while the population gives perfect triples on
        about 40% of ratings and the weak multi-store groups of organic buyers (lockstep
        buyers of a few popular stores) on 0-62% in the simulated development runs.
    rev2_iterations
        Maximum REV2 iterations (30); it stops earlier when no value moves by
        more than ``rev2_tolerance`` (1e-4: a hundredth of the resolution at
        which reliabilities are compared with ``min_reliability``; about 12
        iterations on 5M ratings).
    rev2_alpha_fairness, rev2_alpha_behavior
        Pseudo-counts of the fairness prior (the mean fairness, 1) and of the
        behavioural prior ``1 - anomaly`` (2) in the fairness update: a rater
        is judged by their flags as much as by two ratings.
    rev2_beta_goodness
        Pseudo-count of the goodness prior (the mean goodness) in the goodness
        update (1).
    rev2_gamma_fairness, rev2_gamma_agreement
        Weights of the rater's fairness and of the rating's agreement with the
        seller's goodness in its reliability (1 and 1, as in REV2).
    min_reliability
        A positive rating whose REV2 reliability is below this is unreliable
        (0.6; honest ratings of a seller in line with its goodness score 0.8+).
    weights
        Weight of each fired signal in the noisy-OR ``manipulation_score``;
        see ``SIGNAL_WEIGHTS`` for the defaults and their reasons.
    """

    top_rating: int = 5
    positive_min_rating: int = 4
    prior_strength: float = 10.0
    new_account_days: float = 30.0
    repeat_min_ratings: int = 3
    min_flagged: int = 3
    min_delivery_days: float = 2.0
    refund_min_fraction: float = 0.5
    burst_window_days: int = 3
    burst_baseline_days: int = 28
    burst_min_baseline_days: int = 7
    burst_warmup_days: int = 14
    burst_floor_per_day: float = 1.0
    burst_min_count: int = 10
    burst_min_ratio: float = 5.0
    divergence_min: float = 0.15
    new_share_min: float = 0.4
    new_share_lift: float = 3.0
    group_share_min: float = 0.15
    group_share_lift: float = 3.0
    linked_share_min: float = 0.1
    linked_share_lift: float = 3.0
    perfect_share_min: float = 0.9
    perfect_share_lift: float = 3.0
    early_share_min: float = 0.1
    early_share_lift: float = 3.0
    refunded_share_min: float = 0.12
    refunded_share_lift: float = 3.0
    repeat_share_min: float = 0.3
    repeat_share_lift: float = 3.0
    unreliable_share_min: float = 0.2
    trading_min_per_direction: int = 1
    trading_share_min: float = 0.05
    trading_ties_from_groups: bool = True
    group_min_score: float = 0.5
    group_young_store_min_score: float = 0.4
    circle_min_sellers: int = 2
    circle_min_perfect_share: float = 0.75
    rev2_iterations: int = 30
    rev2_tolerance: float = 1e-4
    rev2_alpha_fairness: float = 1.0
    rev2_alpha_behavior: float = 2.0
    rev2_beta_goodness: float = 1.0
    rev2_gamma_fairness: float = 1.0
    rev2_gamma_agreement: float = 1.0
    min_reliability: float = 0.6
    weights: tuple[tuple[str, float], ...] = ()

    def weight(self, signal: str) -> float:
        """Return the score weight of ``signal`` (override in ``weights``, else the default)."""
        return dict(self.weights).get(signal, SIGNAL_WEIGHTS[signal])


#: Default weight of each seller signal in the noisy-OR manipulation score, with why.
SIGNAL_WEIGHTS: dict[str, float] = {
    # ties between raters and seller: hard to explain honestly
    "linked_accounts": 0.8,  # identity-linked raters are the seller's own accounts
    "group_members": 0.7,  # raters in a detected ring with the seller
    "feedback_trading": 0.7,  # reciprocal top ratings across sellers' sides
    "refunded_top": 0.6,  # top ratings on orders refunded after: paid ratings
    "too_early": 0.6,  # rated before delivery could have happened
    # behaviour that honest sellers sometimes show
    "unreliable_ratings": 0.5,  # REV2 + flags remove a large share of positives
    "burst": 0.4,  # top ratings far above the seller's own baseline
    "new_accounts": 0.4,  # fresh accounts give most top ratings
    "repeat_raters": 0.4,  # the same few accounts rate the store again and again
    # weak alone: excellent honest sellers look like this too
    "divergence": 0.2,  # distribution far from the population (BIRDNEST-style)
    "perfect_dsr": 0.2,  # almost only perfect 5/5/5 DSR triples
}
