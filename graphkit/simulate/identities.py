"""Identifiers that tie accounts to people: e-mail, phone, device, address, payment, IP.

Values are *serials* (int64) inside the simulator: two accounts share an
identifier exactly when they hold the same serial of the same kind. The
assembler turns a serial into an opaque hashed string. Honest sharing exists
by design (households, carrier NAT IPs, fulfilment-centre addresses) so that
a shared identifier alone is never proof.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from graphkit.simulate.world import World

__all__ = ["LINK_KINDS", "add_identities", "fresh", "nat_ips", "warehouse_addresses"]

#: Identifier kinds that link the accounts of one person/operator (not hubs).
LINK_KINDS = ("device", "address", "payment", "ip", "phone")


def fresh(world: World, n: int) -> np.ndarray:
    """``n`` new identifier serials nobody else holds."""
    return world.ids("serial", n)


def nat_ips(world: World, n_accounts_hint: int) -> np.ndarray:
    """Return the carrier NAT IP pool, created once per world (each shared by hundreds)."""
    if "nat" not in world.pools:
        per = max(world.config.organic.nat_accounts_per_ip, 1)
        size = max(3, int(n_accounts_hint * world.config.organic.nat_share / per))
        world.pools["nat"] = fresh(world, size)
    return world.pools["nat"]


def warehouse_addresses(world: World) -> np.ndarray:
    """Return a handful of fulfilment-centre addresses shared by many honest sellers."""
    if "warehouse" not in world.pools:
        world.pools["warehouse"] = fresh(world, 6)
    return world.pools["warehouse"]


def add_identities(
    world: World,
    acc: np.ndarray,
    created_at: np.ndarray,
    *,
    overrides: dict[str, np.ndarray] | None = None,
    extra: dict[str, np.ndarray] | None = None,
    nat_share: float | None = None,
) -> None:
    """Give accounts a standard set of identifiers and append them to the world.

    Every account gets an e-mail, a device, an address, a payment instrument and an
    IP; most get a phone; some a second device; ``nat_share`` of them are (also) seen
    behind a carrier NAT IP shared by hundreds of accounts.

    Parameters
    ----------
    world
        The simulation state.
    acc, created_at
        Internal account ids and registration times (same length).
    overrides
        ``kind -> serials`` per account; a serial ``>= 0`` replaces the account's own
        value of that kind (how linked accounts share a device, address, ...).
    extra
        ``kind -> serials`` per account; a serial ``>= 0`` is added as an extra row.
    nat_share
        Share of accounts seen behind a NAT IP (default: the organic setting).
    """
    rng = world.rng
    n = len(acc)
    if n == 0:
        return
    overrides = overrides or {}
    extra = extra or {}
    nat_share = world.config.organic.nat_share if nat_share is None else nat_share
    rows: list[tuple[str, np.ndarray, np.ndarray]] = []

    def own(kind: str, mask: np.ndarray | None = None) -> None:
        serial = fresh(world, n)
        if kind in overrides:
            o = np.asarray(overrides[kind], dtype=np.int64)
            serial = np.where(o >= 0, o, serial)
        keep = np.ones(n, dtype=bool) if mask is None else mask
        if kind in overrides:
            keep = keep | (np.asarray(overrides[kind]) >= 0)
        rows.append((kind, np.flatnonzero(keep), serial[keep]))

    own("email")
    own("phone", rng.random(n) < 0.85)
    own("device")
    own("address")
    own("payment")
    own("ip", rng.random(n) >= nat_share)
    second = rng.random(n) < 0.3
    rows.append(("device", np.flatnonzero(second), fresh(world, int(second.sum()))))
    behind_nat = rng.random(n) < nat_share
    pool = nat_ips(world, max(n, 1000))
    rows.append(("ip", np.flatnonzero(behind_nat), rng.choice(pool, int(behind_nat.sum()))))
    for kind, serials in extra.items():
        s = np.asarray(serials, dtype=np.int64)
        keep = s >= 0
        rows.append((kind, np.flatnonzero(keep), s[keep]))

    frames = []
    for kind, idx, serial in rows:
        lo = created_at[idx]
        seen = world.uniform_times(len(idx), lo, np.maximum(lo + 1, world.end))
        frames.append(
            pl.DataFrame(
                {
                    "acc": acc[idx],
                    "kind": pl.repeat(kind, len(idx), dtype=pl.String, eager=True),
                    "serial": serial,
                    "seen_at": seen,
                }
            )
        )
    world.add("identifiers", pl.concat(frames))
