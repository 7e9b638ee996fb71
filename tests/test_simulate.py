"""The simulator: contract conformance, determinism, every scenario labelled."""

from __future__ import annotations

import hashlib
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from graphkit.contract import SCENARIOS, TABLES, canonical_schema
from graphkit.errors import ConfigError
from graphkit.io import dataset_from_frames, load_dataset
from graphkit.simulate import SimulationConfig, load_config, simulate

N = 12_000


@pytest.fixture(scope="module")
def market():
    return simulate(N, seed=11)


def _digests(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir())}


def test_every_contract_table_with_canonical_dtypes(market):
    assert set(market.tables) == set(TABLES)
    for name, frame in market.tables.items():
        assert dict(frame.schema) == canonical_schema(name), name
    assert dict(market.labels.schema) == canonical_schema("labels")


def test_exact_order_count(market):
    assert market.tables["orders"].height == N


def test_written_dataset_passes_strict_validation(market, tmp_path):
    out = market.write(tmp_path / "ds")
    ds = load_dataset(out)
    assert ds.orders.select(pl.len()).collect().item() == N
    assert (out / "labels.parquet").exists()
    in_memory = dataset_from_frames(market.tables)
    assert in_memory.has("coupons")


def test_as_of_is_the_last_event(market, tmp_path):
    """The default analysis moment is the snapshot end, not a coupon's future validity."""
    ds = dataset_from_frames(market.tables)
    t = market.tables
    last_event = max(
        t["orders"]["created_at"].max(),
        t["orders"]["paid_at"].max(),
        t["feedback"]["created_at"].max(),
        t["messages"]["sent_at"].max(),
    )
    assert last_event <= ds.as_of <= last_event + timedelta(days=1)


def test_same_seed_byte_identical_files(tmp_path):
    a = simulate(3_000, seed=5).write(tmp_path / "a")
    b = simulate(3_000, seed=5).write(tmp_path / "b")
    assert _digests(a) == _digests(b)


def test_different_seed_different_data():
    a = simulate(3_000, seed=5).tables["orders"]
    b = simulate(3_000, seed=6).tables["orders"]
    assert not a.equals(b)


def test_every_scenario_labelled_with_accounts(market):
    labels = market.labels
    assert set(labels["scenario"].unique()) == set(SCENARIOS)
    accounts = labels.filter(pl.col("entity_kind") == "account")
    assert set(accounts["scenario"].unique()) == set(SCENARIOS)
    assert labels["group_id"].null_count() == 0


def test_labels_reference_existing_entities(market):
    keys = {
        "account": ("accounts", "account_id"),
        "order": ("orders", "order_id"),
        "feedback": ("feedback", "feedback_id"),
        "message": ("messages", "message_id"),
        "case": ("disputes", "case_id"),
        "coupon": ("coupons", "coupon_id"),
    }
    for kind, (table, col) in keys.items():
        ids = market.labels.filter(pl.col("entity_kind") == kind)["entity_id"]
        assert ids.len() > 0, kind
        assert ids.is_in(market.tables[table][col].implode()).all(), kind


def test_zero_count_removes_a_scenario():
    cfg = SimulationConfig().with_scenario("spam", count=0)
    m = simulate(3_000, seed=1, config=cfg)
    assert "spam" not in set(m.labels["scenario"])


def test_config_from_toml(tmp_path):
    p = tmp_path / "s.toml"
    p.write_text("[shill_ring]\ncount = 4\nsize = [3, 3]\nlinked_share = 1\n[organic]\ndays = 90\n")
    cfg = load_config(p)
    assert cfg.shill_ring.count == 4
    assert cfg.shill_ring.size == (3, 3)
    assert cfg.shill_ring.linked_share == 1.0
    assert cfg.organic.days == 90
    m = simulate(4_000, seed=2, config=cfg)
    ring = m.labels.filter(
        (pl.col("scenario") == "shill_ring") & (pl.col("entity_kind") == "account")
    )
    assert ring["group_id"].n_unique() == 4
    assert ring.height == 4 * (3 + 1)  # three buyers and the seller per ring


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[nope]\nx = 1\n", "unknown section"),
        ("[spam]\nbogus = 1\n", "unknown setting"),
        ("[spam\n", "not valid TOML"),
    ],
)
def test_config_errors(tmp_path, text, match):
    p = tmp_path / "bad.toml"
    p.write_text(text)
    with pytest.raises(ConfigError, match=match):
        load_config(p)


def test_committed_sample_is_reproducible(tmp_path):
    """data/sample is exactly what the command in data/README.md writes."""
    sample = Path(__file__).resolve().parents[1] / "data" / "sample"
    readme = (sample.parent / "README.md").read_text()
    assert "python -m graphkit simulate --orders 20000 --seed 0 --out data/sample" in readme
    out = simulate(20_000, seed=0).write(tmp_path / "sample")
    assert _digests(out) == _digests(sample)


def test_difficulty_moves_the_knobs_and_the_data():
    easy = SimulationConfig().at_difficulty(0.0)
    hard = SimulationConfig().at_difficulty(1.0)
    assert easy.shill_ring.linked_share > hard.shill_ring.linked_share
    assert easy.spam.events[0] > hard.spam.events[1]
    with pytest.raises(ConfigError, match="difficulty"):
        SimulationConfig().at_difficulty(1.5)
    m_easy = simulate(8_000, seed=3, config=easy)
    m_hard = simulate(8_000, seed=3, config=hard)
    for m in (m_easy, m_hard):
        dataset_from_frames(m.tables)  # valid at both ends

    def spam_per_sender(m):
        lab = m.labels.filter((pl.col("scenario") == "spam") & (pl.col("entity_kind") == "message"))
        return lab.group_by("group_id").len()["len"].mean()

    def ring_size(m):
        lab = m.labels.filter(
            (pl.col("scenario") == "shill_ring") & (pl.col("entity_kind") == "account")
        )
        return lab.group_by("group_id").len()["len"].mean()

    assert spam_per_sender(m_easy) > 4 * spam_per_sender(m_hard)
    assert ring_size(m_easy) > ring_size(m_hard)


def test_cli_difficulty_then_config(tmp_path, capsys):
    from graphkit.cli import main

    toml = tmp_path / "s.toml"
    toml.write_text("[spam]\ncount = 1\nevents = [5, 5]\n")
    out = tmp_path / "ds"
    code = main(
        [
            "simulate",
            "--orders",
            "3000",
            "--seed",
            "2",
            "--out",
            str(out),
            "--difficulty",
            "1",
            "--config",
            str(toml),
        ]
    )
    assert code == 0
    assert "wrote" in capsys.readouterr().out
    labels = pl.read_parquet(out / "labels.parquet")
    spam = labels.filter((pl.col("scenario") == "spam") & (pl.col("entity_kind") == "message"))
    assert spam.height == 5  # the file's knob wins over the difficulty's
    ring = labels.filter(
        (pl.col("scenario") == "shill_ring") & (pl.col("entity_kind") == "account")
    )
    assert ring.group_by("group_id").len()["len"].max() <= 7  # hard: 3-6 buyers + the seller
    p = tmp_path / "d.toml"
    p.write_text("difficulty = 0.0\n[shill_ring]\nlinked_share = 0.5\n")
    cfg = load_config(p)
    assert cfg.shill_ring.linked_share == 0.5
    assert cfg.shill_ring.size == (8, 15)
    assert (
        main(
            [
                "simulate",
                "--orders",
                "10",
                "--out",
                str(tmp_path / "x"),
                "--config",
                str(tmp_path / "missing.toml"),
            ]
        )
        == 2
    )


@pytest.mark.parametrize(
    "module",
    [
        "graphkit.simulate.config",
        "graphkit.simulate.core",
        "graphkit.simulate.text",
        "graphkit.simulate.ratings",
        "graphkit.simulate.scenarios.common",
        "graphkit.evaluate",
    ],
)
def test_docstring_examples_run(module):
    import doctest
    import importlib

    result = doctest.testmod(importlib.import_module(module), optionflags=doctest.ELLIPSIS)
    assert result.failed == 0
    assert result.attempted > 0
