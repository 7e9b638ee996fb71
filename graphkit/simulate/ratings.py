"""Star ratings and detailed seller ratings (DSRs), honest and planted.

Honest ratings are J-shaped (mostly 5, a bump at 1, few 2-3), worse for
low-quality sellers and slow deliveries. DSRs follow the overall rating with
per-dimension noise: *item as described* tracks the seller's true quality,
*shipping speed* the actual delivery time. Perfect 5/5/5/5 is common among
honest buyers too, so a perfect rating alone proves nothing.
"""

from __future__ import annotations

import numpy as np

__all__ = ["Ratings", "honest_ratings", "negative_ratings", "top_ratings"]

Ratings = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


def _clip(x: np.ndarray) -> np.ndarray:
    return np.clip(x, 1, 5).astype(np.int8)


def honest_ratings(
    rng: np.random.Generator, quality: np.ndarray, delivery_days: np.ndarray
) -> Ratings:
    """Overall rating and the three DSRs of honest buyers.

    Parameters
    ----------
    rng
        The run's generator.
    quality
        True quality (0..1) of the seller of each order.
    delivery_days
        Days from payment to delivery of each order.

    Returns
    -------
    tuple of np.ndarray
        ``rating, item_as_described, communication, shipping_speed`` (int8, 1..5).

    Examples
    --------
    >>> r = honest_ratings(np.random.default_rng(0), np.full(1000, 0.9), np.full(1000, 7.0))
    >>> int((r[0] == 5).sum()) > 600
    True
    """
    n = len(quality)
    p_bad = 0.02 + 0.45 * (1.0 - quality) + 0.06 * (delivery_days > 20)
    bad = rng.random(n) < p_bad
    low = rng.choice(np.array([1, 2, 3]), n, p=[0.55, 0.2, 0.25])
    high = np.where(rng.random(n) < 0.82, 5, 4)
    rating = np.where(bad, low, high)
    noise = rng.choice(np.array([-1, 0, 1]), (3, n), p=[0.12, 0.78, 0.10])
    item = rating + noise[0] - (rng.random(n) > quality + 0.1)
    comm = rating + noise[1]
    ship = rating + noise[2] - (delivery_days > 15) - (delivery_days > 25) + (delivery_days < 7)
    return _clip(rating), _clip(item), _clip(comm), _clip(ship)


def top_ratings(rng: np.random.Generator, n: int, top_share: float) -> Ratings:
    """Planted praise: ``top_share`` perfect 5/5/5/5, the rest 4-5 stars with high DSRs."""
    perfect = rng.random(n) < top_share
    rating = np.where(perfect, 5, rng.choice(np.array([4, 5]), n, p=[0.5, 0.5]))
    dsr = [np.where(perfect, 5, rng.choice(np.array([4, 5]), n)) for _ in range(3)]
    return _clip(rating), _clip(dsr[0]), _clip(dsr[1]), _clip(dsr[2])


def negative_ratings(rng: np.random.Generator, n: int) -> Ratings:
    """Punitive feedback: 1-2 stars with low DSRs."""
    rating = rng.choice(np.array([1, 2]), n, p=[0.8, 0.2])
    dsr = [rng.choice(np.array([1, 2, 3]), n, p=[0.6, 0.3, 0.1]) for _ in range(3)]
    return _clip(rating), _clip(dsr[0]), _clip(dsr[1]), _clip(dsr[2])
