from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from graphkit.config import ScanConfig, load_config, thresholds_table
from graphkit.errors import ConfigError, InputNotFoundError


def test_defaults_come_from_the_checks() -> None:
    cfg = ScanConfig()
    assert cfg.params("UNPAID_ITEMS")["days_to_pay"] == 20
    table = thresholds_table()
    assert table.height > 0
    assert table.filter(table["reason"].str.len_chars() == 0).height == 0
    assert (table["default"] == table["value"]).all()


def test_toml_round_trip(tmp_path: Path) -> None:
    p = tmp_path / "scan.toml"
    p.write_text(
        "[scan]\nseed = 7\nas_of = '2026-03-01T00:00:00Z'\ndisabled = ['UNPAID_ITEMS']\n"
        "[rules.UNPAID_ITEMS]\ndays_to_pay = 30\n"
        "[policy_text.UNPAID_ITEMS]\ntext = 'Pay in 30 days.'\n"
        "[detect]\nresolution = 0.5\n"
    )
    cfg = load_config(p)
    assert cfg.seed == 7
    assert cfg.as_of == datetime(2026, 3, 1, tzinfo=UTC)
    assert cfg.disabled == ("UNPAID_ITEMS",)
    assert cfg.params("UNPAID_ITEMS")["days_to_pay"] == 30
    assert cfg.params("UNPAID_ITEMS")["window_days"] == 365
    assert cfg.detect == {"resolution": 0.5}
    d = cfg.to_dict()
    assert d["rules"]["UNPAID_ITEMS"]["days_to_pay"] == 30
    t = thresholds_table(cfg).filter(name="days_to_pay").row(0, named=True)
    assert (t["default"], t["value"]) == ("20", "30")


@pytest.mark.parametrize(
    ("raw", "match"),
    [
        ({"rulez": {}}, r"unknown section\(s\) \['rulez'\]; valid sections"),
        ({"scan": {"sed": 1}}, r"unknown key\(s\) \['sed'\] in \[scan\]"),
        ({"scan": {"seed": "x"}}, "seed must be an integer"),
        ({"scan": {"as_of": "yesterday"}}, "as_of must be an ISO 8601"),
        ({"rules": {"NOPE": {}}}, r"unknown rule id\(s\) \['NOPE'\].*valid: \[.*'UNPAID_ITEMS'"),
        (
            {"rules": {"UNPAID_ITEMS": {"days_to_py": 3}}},
            r"unknown threshold\(s\) \['days_to_py'\].*valid: \[.*'days_to_pay'",
        ),
        ({"rules": {"UNPAID_ITEMS": {"days_to_pay": "20"}}}, "days_to_pay must be int"),
        ({"rules": {"UNPAID_ITEMS": {"count_cancelled": 1}}}, "count_cancelled must be bool"),
        ({"policy_text": {"UNPAID_ITEMS": {"wording": "x"}}}, "valid: \\['title'"),
        ({"scan": {"disabled": ["NOPE"]}}, r"\[disabled\]"),
    ],
)
def test_invalid_configs_raise_config_error_listing_valid_keys(raw: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        ScanConfig.from_mapping(raw)


def test_config_errors_are_value_errors_and_missing_file(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scan\n")
    with pytest.raises(ValueError, match="not valid TOML"):
        load_config(bad)
    with pytest.raises(InputNotFoundError):
        load_config(tmp_path / "missing.toml")
    assert load_config(None) == ScanConfig()


def test_float_threshold_accepts_int_and_keeps_float() -> None:
    from graphkit.policy import checks

    floats = [
        (c.rule_id, t.name) for c in checks() for t in c.thresholds if isinstance(t.default, float)
    ]
    if not floats:
        pytest.skip("no float thresholds registered yet")
    rule, name = floats[0]
    cfg = ScanConfig.from_mapping({"rules": {rule: {name: 1}}})
    value = cfg.params(rule)[name]
    assert isinstance(value, float)
    assert value == 1.0
