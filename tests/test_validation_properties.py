"""Property tests of ingestion (hypothesis).

1. Any dataset built from valid rows (consistent references, any opaque id text) validates,
   in memory and after a round trip through CSV, NDJSON or Parquet, with every id intact.
2. Any single corrupted cell is reported on its table and column, naming its 1-based row.
3. Validation is deterministic: the same input gives the same problems, byte for byte.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphkit.errors import DataContractError
from graphkit.io import dataset_from_frames, load_dataset, validate_dataset, write_dataset

SETTINGS = settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

# opaque ids: any printable text (including "../", quotes, commas, non-ASCII), not blank
ID_TEXT = st.text(
    alphabet=st.characters(blacklist_categories=("Cc", "Cs", "Zl", "Zp")),
    min_size=1,
    max_size=12,
).filter(lambda s: s.strip() != "")
TIMES = st.datetimes(
    min_value=datetime(2020, 1, 1), max_value=datetime(2030, 1, 1), timezones=st.just(UTC)
)
DELAYS = st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=60))
TZ = pl.Datetime("us", "UTC")


@st.composite
def marketplaces(draw: st.DrawFn) -> dict[str, pl.DataFrame]:
    """A valid micro-marketplace: accounts, orders and feedback with consistent references."""
    n_sellers = draw(st.integers(1, 3))
    n_buyers = draw(st.integers(1, 4))
    ids = draw(
        st.lists(ID_TEXT, min_size=n_sellers + n_buyers, max_size=n_sellers + n_buyers, unique=True)
    )
    sellers, buyers = ids[:n_sellers], ids[n_sellers:]
    n_orders = draw(st.integers(1, 6))
    order_ids = draw(st.lists(ID_TEXT, min_size=n_orders, max_size=n_orders, unique=True))
    buyer = [draw(st.sampled_from(buyers)) for _ in range(n_orders)]
    seller = [draw(st.sampled_from(sellers)) for _ in range(n_orders)]
    created = [draw(TIMES) for _ in range(n_orders)]
    paid = [draw(st.none() | DELAYS.map(lambda d, c=c: c + d)) for c in created]
    amount = draw(
        st.lists(
            st.floats(0, 1e6, allow_nan=False, allow_infinity=False),
            min_size=n_orders,
            max_size=n_orders,
        )
    )
    # feedback: a unique set of (order, side) pairs
    pairs = draw(
        st.lists(st.tuples(st.integers(0, n_orders - 1), st.booleans()), unique=True, max_size=8)
    )
    if not pairs:
        pairs = [(0, True)]
    fb_ids = draw(st.lists(ID_TEXT, min_size=len(pairs), max_size=len(pairs), unique=True))
    ratings = st.integers(1, 5)
    fb = {
        "feedback_id": fb_ids,
        "order_id": [order_ids[o] for o, _ in pairs],
        "author_id": [buyer[o] if by_buyer else seller[o] for o, by_buyer in pairs],
        "target_id": [seller[o] if by_buyer else buyer[o] for o, by_buyer in pairs],
        "rating": [draw(ratings) for _ in pairs],
        "created_at": [created[o] + draw(DELAYS) for o, _ in pairs],
        "text": [draw(st.none() | st.text(max_size=20)) for _ in pairs],
    }
    for dsr in ("dsr_item_as_described", "dsr_communication", "dsr_shipping_speed"):
        fb[dsr] = [draw(ratings) if by_buyer else None for _, by_buyer in pairs]
    return {
        "accounts": pl.DataFrame(
            {
                "account_id": ids,
                "kind": ["seller"] * n_sellers + ["buyer"] * n_buyers,
                "created_at": pl.Series([min(created)] * len(ids), dtype=TZ),
            }
        ),
        "orders": pl.DataFrame(
            {
                "order_id": order_ids,
                "buyer_id": buyer,
                "seller_id": seller,
                "amount": amount,
                "created_at": pl.Series(created, dtype=TZ),
                "paid_at": pl.Series(paid, dtype=TZ),
            }
        ),
        "feedback": pl.DataFrame(fb).with_columns(
            pl.col("created_at").cast(TZ),
            *[pl.col(c).cast(pl.Int8) for c in ("rating", "dsr_item_as_described")],
        ),
    }


@SETTINGS
@given(frames=marketplaces(), fmt=st.sampled_from(["memory", "csv", "ndjson", "parquet"]))
def test_valid_rows_always_validate(frames: dict[str, pl.DataFrame], fmt: str) -> None:
    if fmt == "memory":
        ds = dataset_from_frames(frames)
        got = ds.collect()
    else:
        with tempfile.TemporaryDirectory() as tmp:
            folder = write_dataset(frames, Path(tmp) / "ds", format=fmt)
            ds = load_dataset(folder)
            got = ds.collect()
    assert {k: v.height for k, v in got.items()} == {k: v.height for k, v in frames.items()}
    for table, key in (
        ("accounts", "account_id"),
        ("orders", "order_id"),
        ("feedback", "feedback_id"),
    ):
        assert got[table][key].to_list() == frames[table][key].to_list()
    assert got["orders"]["amount"].to_list() == frames["orders"]["amount"].to_list()
    assert got["orders"]["created_at"].to_list() == frames["orders"]["created_at"].to_list()
    latest = max(
        frames["orders"]["created_at"].max(),
        frames["orders"]["paid_at"].max() or frames["orders"]["created_at"].max(),
        frames["feedback"]["created_at"].max(),
    )
    assert ds.as_of == latest


def _text(df: pl.DataFrame, column: str) -> pl.DataFrame:
    return df.with_columns(pl.col(column).cast(pl.String))


# (table, column, rule, how to corrupt the cell given the frames and the row)
CORRUPTIONS = {
    "negative amount": ("orders", "amount", "negative or below minimum", lambda f, r: -1.5),
    "amount not a number": ("orders", "amount", "wrong type", lambda f, r: "12,50 €"),
    "rating zero": ("feedback", "rating", "rating out of 1..5", lambda f, r: 0),
    "rating six": ("feedback", "rating", "rating out of 1..5", lambda f, r: 6),
    "null buyer": ("orders", "buyer_id", "null or empty id", lambda f, r: None),
    "blank order id": ("orders", "order_id", "null or empty id", lambda f, r: " \t "),
    "newline in id": (
        "feedback",
        "feedback_id",
        "id contains control characters (newline, tab, NUL, ...)",
        lambda f, r: f["feedback"]["feedback_id"][r] + "\n",
    ),
    "bad time": ("orders", "created_at", "unparseable timestamp", lambda f, r: "31/12/2026"),
    "dangling order": (
        "feedback",
        "order_id",
        "dangling reference to orders.order_id",
        lambda f, r: "\u2603".join(f["orders"]["order_id"].to_list()) + "?",
    ),
    "dangling seller": (
        "orders",
        "seller_id",
        "dangling reference to accounts.account_id",
        lambda f, r: "".join(f["accounts"]["account_id"].to_list()) + "#",
    ),
    "paid before created": (
        "orders",
        "paid_at",
        "paid_at before created_at",
        lambda f, r: f["orders"]["created_at"][r] - timedelta(seconds=1),
    ),
    "unknown account kind": ("accounts", "kind", "not one of buyer, seller", lambda f, r: "admin"),
}


@SETTINGS
@given(frames=marketplaces(), kind=st.sampled_from(sorted(CORRUPTIONS)), data=st.data())
def test_a_corrupted_cell_is_reported_with_its_row(
    frames: dict[str, pl.DataFrame], kind: str, data: st.DataObject
) -> None:
    table, column, rule, value_of = CORRUPTIONS[kind]
    row = data.draw(st.integers(0, frames[table].height - 1), label="row")
    value = value_of(frames, row)
    df = frames[table]
    if isinstance(value, str) and df.schema[column] != pl.String:
        df = _text(df, column)
    values = df[column].to_list()
    values[row] = value
    frames[table] = df.with_columns(pl.Series(column, values, dtype=df.schema[column]))
    try:
        dataset_from_frames(frames)
    except DataContractError as err:
        problems = err.problems.filter((pl.col("table") == table) & (pl.col("column") == column))
    else:
        raise AssertionError(f"{kind} at {table}.{column} row {row + 1} was not reported")
    assert rule in problems["rule"].to_list()
    hit = problems.filter(pl.col("rule") == rule).row(0, named=True)
    assert hit["rows"] == 1
    assert hit["examples"][0].startswith(f"row {row + 1} ")


@SETTINGS
@given(frames=marketplaces(), fmt=st.sampled_from(["csv", "parquet"]))
def test_validation_is_deterministic(frames: dict[str, pl.DataFrame], fmt: str) -> None:
    frames["orders"] = frames["orders"].with_columns(pl.lit(-1.0).alias("amount"))
    with tempfile.TemporaryDirectory() as tmp:
        folder = write_dataset(frames, Path(tmp) / "ds", format=fmt)
        first = validate_dataset(folder).problems
        second = validate_dataset(folder).problems
    assert first.height >= 1
    assert first.equals(second)
