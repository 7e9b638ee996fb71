"""``graphkit validate``: exit codes, readable and JSON reports, lenient rejects, help."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest

import graphkit.cli.validate as validate_cmd
from graphkit.cli import COMMANDS, main
from graphkit.io import write_dataset


@pytest.fixture
def good(tiny, tmp_path: Path) -> Path:
    return write_dataset(tiny, tmp_path / "good", format="csv")


@pytest.fixture
def bad(tiny, tmp_path: Path) -> Path:
    tiny["orders"] = tiny["orders"].with_columns(pl.Series("amount", [-1.0, 12.5, 99.0, 0.0]))
    tiny["feedback"] = tiny["feedback"].with_columns(pl.Series("rating", [5, 4, 7]))
    return write_dataset(tiny, tmp_path / "bad", format="csv")


def test_valid_dataset_exits_0_with_a_summary(good: Path, capsys) -> None:
    assert main(["validate", str(good)]) == 0
    out = capsys.readouterr().out
    assert "tables: accounts 5, coupons 1, disputes 1, feedback 3" in out
    assert f"valid: {good} (as_of 2026-03-15T10:00:00+00:00)" in out


def test_valid_dataset_json(good: Path, capsys) -> None:
    assert main(["validate", str(good), "--json", "--as-of", "2026-04-01"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is True
    assert doc["accepted"] is True
    assert doc["problems"] == []
    assert doc["row_counts"]["orders"] == 4
    assert doc["as_of"] == "2026-04-01T00:00:00+00:00"


def test_invalid_dataset_exits_2_listing_every_problem(bad: Path, capsys) -> None:
    assert main(["validate", str(bad)]) == 2
    out, err = capsys.readouterr()
    assert out == ""
    assert "2 problem(s) in" in err
    assert "orders.amount: negative or below minimum (1 rows)" in err
    assert "row 1 amount=-1.0" in err
    assert "feedback.rating: rating out of 1..5 (1 rows)" in err
    assert f"invalid: {bad}" in err
    assert "Traceback" not in err


def test_invalid_dataset_json_is_machine_readable(bad: Path, capsys) -> None:
    assert main(["validate", str(bad), "--json"]) == 2
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is False
    assert doc["accepted"] is False
    assert [(p["table"], p["column"], p["rule"], p["rows"]) for p in doc["problems"]] == [
        ("orders", "amount", "negative or below minimum", 1),
        ("feedback", "rating", "rating out of 1..5", 1),
    ]
    assert doc["problems"][0]["file"].endswith("orders.csv")
    assert doc["problems"][1]["examples"] == ["row 3 rating='7'"]  # as in the file


def test_lenient_writes_rejects_and_exits_0(bad: Path, tmp_path: Path, capsys) -> None:
    rejects = tmp_path / "out" / "rejects.csv"
    code = main(["validate", str(bad), "--lenient", "--rejects", str(rejects), "--json"])
    assert code == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["valid"] is False
    assert doc["accepted"] is True
    assert doc["rejected_rows"] == 4  # o1, its two feedbacks, f3
    assert doc["rejects_file"] == str(rejects)
    back = pl.read_csv(rejects)
    assert back.columns == ["table", "row", "key", "reasons"]
    assert back.select("table", "row", "key").rows() == [
        ("feedback", 1, "f1"),
        ("feedback", 2, "f2"),
        ("feedback", 3, "f3"),
        ("orders", 1, "o1"),
    ]
    main(["validate", str(bad), "--lenient", "--rejects", str(rejects)])
    out = capsys.readouterr().out
    assert f"lenient: 4 row(s) left out, with reasons, in {rejects}" in out
    assert "accepted leniently" in out


def test_missing_folder_exits_2_without_traceback(tmp_path: Path, capsys) -> None:
    assert main(["validate", str(tmp_path / "nope")]) == 2
    err = capsys.readouterr().err
    assert "does not exist" in err
    assert "Traceback" not in err


def test_bad_as_of_exits_2(good: Path, capsys) -> None:
    assert main(["validate", str(good), "--as-of", "soon"]) == 2
    assert "as_of must be an ISO 8601 time" in capsys.readouterr().err


def test_internal_error_exits_1_without_traceback(good: Path, monkeypatch, capsys) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(validate_cmd, "validate_dataset", broken)
    monkeypatch.delenv("GRAPHKIT_DEBUG", raising=False)
    assert main(["validate", str(good)]) == 1
    err = capsys.readouterr().err
    assert "internal error: RuntimeError: disk on fire" in err
    assert "Traceback" not in err


@pytest.mark.parametrize("argv", [["--help"], ["validate", "--help"]])
def test_help(argv: list[str], capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(argv)
    assert exit_.value.code == 0
    out = capsys.readouterr().out
    assert "usage: graphkit" in out
    if argv[0] == "validate":
        for option in ("--lenient", "--json", "--rejects", "--as-of", "DIR"):
            assert option in out
    else:
        assert "validate" in out


def test_every_command_has_help(capsys) -> None:
    for name in COMMANDS:
        with pytest.raises(SystemExit) as exit_:
            main([name, "--help"])
        assert exit_.value.code == 0
        assert f"usage: graphkit {name}" in capsys.readouterr().out


def test_real_command_line(good: Path, bad: Path) -> None:
    """The installed entry point, in a fresh process: exit codes and no traceback."""
    env = {k: v for k, v in os.environ.items() if k != "GRAPHKIT_DEBUG"}
    for folder, code in ((good, 0), (bad, 2), (bad.parent / "missing", 2)):
        proc = subprocess.run(
            [sys.executable, "-m", "graphkit", "validate", str(folder), "--json"],
            capture_output=True,
            text=True,
            env=env,
            check=False,
        )
        assert proc.returncode == code, proc.stderr
        assert "Traceback" not in proc.stdout + proc.stderr
