"""Accounts and the honest population: sellers with Zipf-like popularity, heavy-tailed buyers.

A :class:`Population` holds, per buyer and per seller, the *expected number of
honest orders* it takes part in (its weight) plus the traits that shape its
behaviour (seller quality, price level, catalogue size, registration time).
Planted scenarios add their actors to it so they also get honest-looking
background activity from the very same generator.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from graphkit.simulate.identities import add_identities, fresh, nat_ips, warehouse_addresses
from graphkit.simulate.world import DAY, World, splitmix64

__all__ = [
    "COUNTRIES",
    "N_ACCESSORIES",
    "Population",
    "build_population",
    "draw_items",
    "item_prices",
    "new_accounts",
]

COUNTRIES = np.array(["US", "BR", "RU", "ES", "FR", "DE", "PL", "GB", "IT", "NL", "KR", "IL"])
_COUNTRY_P = np.array([22, 14, 14, 9, 7, 7, 6, 6, 5, 4, 3, 3], dtype=float)


#: Cheap accessory listings every store has besides its catalogue (indices after it).
N_ACCESSORIES = 3


def item_prices(pop: Population, s_pos: np.ndarray, item: np.ndarray) -> np.ndarray:
    """Return the unit price of ``item`` at seller position ``s_pos`` (one price per listing).

    Catalogue items cost about the store's price level (x0.55-1.8); accessory listings
    (indices at or after the catalogue size) cost 12-37% of it. Every order of a listing,
    honest or planted, pays the same unit price.
    """
    seller = pop.sellers[s_pos]
    base = pop.seller_price[s_pos]
    u = splitmix64(seller * 65_537 + item).astype(np.float64) / 2.0**64
    regular = base * np.exp(1.2 * (u - 0.5))
    accessory = base * (0.12 + 0.25 * u)
    return np.round(np.where(item >= pop.seller_items[s_pos], accessory, regular) + 0.49, 2)


def draw_items(
    rng: np.random.Generator, pop: Population, s_pos: np.ndarray, accessory_share: float
) -> np.ndarray:
    """Draw listings: popular catalogue items mostly, accessories with ``accessory_share``."""
    n = len(s_pos)
    n_reg = pop.seller_items[s_pos]
    regular = np.floor(n_reg * rng.random(n) ** 2).astype(np.int64)
    accessory = n_reg + rng.integers(0, N_ACCESSORIES, n)
    return np.where(rng.random(n) < accessory_share, accessory, regular)


def new_accounts(
    world: World,
    n: int,
    kind: str,
    created_at: np.ndarray,
    *,
    country: np.ndarray | None = None,
) -> np.ndarray:
    """Register ``n`` accounts of ``kind`` (``buyer``/``seller``); return their internal ids."""
    acc = world.ids("accounts", n)
    if country is None:
        country = world.rng.choice(COUNTRIES, n, p=_COUNTRY_P / _COUNTRY_P.sum())
    world.add(
        "accounts",
        pl.DataFrame(
            {
                "acc": acc,
                "kind": pl.repeat(kind, n, dtype=pl.String, eager=True),
                "created_at": np.asarray(created_at, dtype=np.int64),
                "country": country,
            }
        ),
    )
    return acc


@dataclass
class Population:
    """Buyers and sellers that take part in honest trade, with their weights and traits."""

    sellers: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    seller_weight: np.ndarray = field(default_factory=lambda: np.empty(0))
    seller_quality: np.ndarray = field(default_factory=lambda: np.empty(0))
    seller_price: np.ndarray = field(default_factory=lambda: np.empty(0))
    seller_items: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    seller_created: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    buyers: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    buyer_weight: np.ndarray = field(default_factory=lambda: np.empty(0))
    buyer_created: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    buyer_favorite: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    seller_flash: np.ndarray = field(default_factory=lambda: np.empty(0, np.int64))
    organic_sellers: int = 0
    organic_buyers: int = 0

    def add_sellers(
        self,
        acc: np.ndarray,
        weight: np.ndarray,
        quality: np.ndarray,
        price: np.ndarray,
        items: np.ndarray,
        created: np.ndarray,
    ) -> None:
        """Add sellers with their expected honest orders and traits."""
        self.seller_flash = np.concatenate([self.seller_flash, np.full(len(acc), -1)])
        self.sellers = np.concatenate([self.sellers, acc])
        self.seller_weight = np.concatenate([self.seller_weight, weight])
        self.seller_quality = np.concatenate([self.seller_quality, quality])
        self.seller_price = np.concatenate([self.seller_price, price])
        self.seller_items = np.concatenate([self.seller_items, items]).astype(np.int64)
        self.seller_created = np.concatenate([self.seller_created, created]).astype(np.int64)

    def add_buyers(self, acc: np.ndarray, weight: np.ndarray, created: np.ndarray) -> None:
        """Add buyers with their expected honest orders (no favourite store)."""
        self.buyer_favorite = np.concatenate([self.buyer_favorite, np.full(len(acc), -1)])
        self.buyers = np.concatenate([self.buyers, acc])
        self.buyer_weight = np.concatenate([self.buyer_weight, weight])
        self.buyer_created = np.concatenate([self.buyer_created, created]).astype(np.int64)

    def popular_sellers(self, k: int) -> np.ndarray:
        """Positions (into ``sellers``) of the ``k`` most popular organic sellers."""
        w = self.seller_weight[: self.organic_sellers]
        return np.argsort(-w, kind="stable")[: max(1, min(k, len(w)))]

    def seller_pos(self, acc: np.ndarray) -> np.ndarray:
        """Positions of seller accounts in ``sellers``."""
        order = np.argsort(self.sellers, kind="stable")
        return order[np.searchsorted(self.sellers, np.asarray(acc), sorter=order)]

    def sample_sellers(self, rng: np.random.Generator, n: int, *, top: int = 0) -> np.ndarray:
        """Draw ``n`` organic sellers by popularity (restricted to the ``top`` most popular)."""
        w = self.seller_weight[: self.organic_sellers].copy()
        if top:
            keep = np.zeros_like(w, dtype=bool)
            keep[self.popular_sellers(top)] = True
            w = np.where(keep, w, 0.0)
        return rng.choice(self.organic_sellers, size=n, p=w / w.sum())


def build_population(world: World) -> Population:
    """Create the honest sellers and buyers, their identifiers and households."""
    rng = world.rng
    org = world.config.organic
    n = world.n_orders
    n_sellers = max(40, int(n / org.orders_per_seller))
    n_buyers = max(200, int(n * org.buyers_per_order))
    nat_ips(world, n_sellers + n_buyers)
    window = org.days * DAY

    # --- sellers: Zipf popularity, quality, price level, catalogue -----------------
    rank = rng.permutation(n_sellers) + 1
    pop_w = 1.0 / rank.astype(float) ** org.seller_zipf
    is_new = rng.random(n_sellers) < org.new_seller_share
    # honest new sellers that grow fast: some of them become popular
    pop_w = np.where(is_new & (rng.random(n_sellers) < 0.4), pop_w * 20.0, pop_w)
    created = np.where(
        is_new,
        world.start + (rng.random(n_sellers) * 0.6 * window).astype(np.int64),
        world.start - world.days(rng.gamma(2.0, 400.0, n_sellers)) - DAY,
    )
    quality = np.clip(rng.beta(7.0, 1.3, n_sellers), 0.05, 0.995)
    price = np.exp(rng.normal(3.0, 0.7, n_sellers))
    items = 1 + rng.poisson(3 + 40 * pop_w / pop_w.max())
    sellers = new_accounts(world, n_sellers, "seller", created)
    wh = rng.random(n_sellers) < org.warehouse_share
    add_identities(
        world,
        sellers,
        created,
        overrides={"address": np.where(wh, rng.choice(warehouse_addresses(world), n_sellers), -1)},
    )

    # --- buyers: heavy-tailed activity, registration, households -------------------
    activity = rng.lognormal(0.0, org.buyer_activity_sigma, n_buyers)
    is_new_b = rng.random(n_buyers) < org.new_buyer_share
    b_created = np.where(
        is_new_b,
        world.start + (rng.random(n_buyers) * 0.95 * window).astype(np.int64),
        world.start - world.days(rng.gamma(1.5, 500.0, n_buyers)) - DAY,
    )
    buyers = new_accounts(world, n_buyers, "buyer", b_created)
    # households: runs of 2-4 of the (randomly chosen) members share an address and a
    # home IP; about a third of households also share a device
    members = np.flatnonzero(rng.random(n_buyers) < org.household_share)
    sizes = rng.integers(2, 5, max(1, len(members) // 2))
    house = np.full(n_buyers, -1, dtype=np.int64)
    house[members] = np.repeat(np.arange(len(sizes)), sizes)[: len(members)]
    n_house = len(sizes)
    h_addr, h_ip, h_dev = fresh(world, n_house), fresh(world, n_house), fresh(world, n_house)
    shares_device = rng.random(n_house) < 0.35
    hh = house >= 0
    hidx = np.where(hh, house, 0)
    add_identities(
        world,
        buyers,
        b_created,
        overrides={"address": np.where(hh, h_addr[hidx], -1), "ip": np.where(hh, h_ip[hidx], -1)},
        extra={"device": np.where(hh & shares_device[hidx], h_dev[hidx], -1)},
    )

    pop = Population()
    pop.add_sellers(sellers, pop_w, quality, price, items, created)
    pop.add_buyers(buyers, activity, b_created)
    pop.organic_sellers = n_sellers
    pop.organic_buyers = n_buyers
    # loyal fans of small stores (concentrated spend, honest) and flash-sale bursts
    small = np.flatnonzero(rank > n_sellers // 10)
    fans = rng.random(n_buyers) < org.loyal_share
    pop.buyer_favorite[fans] = rng.choice(small, int(fans.sum()))
    flash = (rng.random(n_sellers) < org.flash_sale_share) & (created < world.end - 20 * DAY)
    lo_flash = np.maximum(created[flash], world.start) + DAY
    pop.seller_flash[np.flatnonzero(flash)] = world.uniform_times(
        int(flash.sum()), lo_flash, world.end - 5 * DAY
    )
    return pop
