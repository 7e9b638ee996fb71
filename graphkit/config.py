"""Scan configuration: every threshold with its default and why, loadable from TOML.

Thresholds are declared by the policy checks themselves (see
:mod:`graphkit.policy.registry`); a :class:`ScanConfig` only holds the
overrides, validated against those declarations. A config file looks like::

    [scan]
    seed = 7
    as_of = "2026-03-01T00:00:00Z"
    disabled = ["COMM_SPAM"]
    max_ring_sellers = 10   # detected groups spanning more stores are not collusion evidence

    [rules.UNPAID_ITEMS]
    days_to_pay = 20

    [policy_text.UNPAID_ITEMS]
    text = "Our own wording of the unpaid-items policy."

    [detect]          # passed to graphkit.detect.detect_groups(params=...)
    [ratings]         # passed to graphkit.detect.ratings.rating_signals(params=...)

Unknown sections, rules or threshold names raise :class:`ConfigError` listing
the valid keys.

Examples
--------
>>> from graphkit.config import ScanConfig
>>> cfg = ScanConfig.from_mapping({"rules": {"UNPAID_ITEMS": {"days_to_pay": 30}}})
>>> cfg.params("UNPAID_ITEMS")["days_to_pay"]
30
"""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import polars as pl

from graphkit.errors import ConfigError, InputNotFoundError

__all__ = ["ScanConfig", "load_config", "thresholds_table"]

_SECTIONS = ("scan", "rules", "policy_text", "detect", "ratings")
_SCAN_KEYS = ("seed", "as_of", "disabled", "max_ring_sellers")
_TEXT_KEYS = ("title", "section", "text")


@dataclass(frozen=True)
class ScanConfig:
    """Validated overrides of a scan's defaults.

    Parameters
    ----------
    rules
        ``{rule_id: {threshold: value}}`` overriding the checks' defaults.
    disabled
        Rule ids not to run (reported as not evaluated, reason "disabled by config").
    policy_text
        ``{rule_id: {"title"|"section"|"text": str}}`` overriding the policy wording.
    detect, ratings
        Parameters passed through to group detection and rating signals.
    seed, as_of
        Run parameters a config file may pin (the command line wins).
    max_ring_sellers
        Detected groups with more sellers than this are communities, not rings: the checks
        and rating signals do not use them as evidence (``None``: the default of
        :data:`graphkit.policy.context.MAX_RING_SELLERS`).
    """

    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    disabled: tuple[str, ...] = ()
    policy_text: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    detect: Mapping[str, Any] = field(default_factory=dict)
    ratings: Mapping[str, Any] = field(default_factory=dict)
    seed: int | None = None
    as_of: datetime | None = None
    max_ring_sellers: int | None = None

    def __post_init__(self) -> None:
        _validate(self)

    @classmethod
    def from_mapping(cls, raw: Mapping[str, Any], *, source: str = "config") -> ScanConfig:
        """Build a config from a parsed TOML mapping; raise ``ConfigError`` on unknown keys."""
        unknown = sorted(set(raw) - set(_SECTIONS))
        if unknown:
            raise ConfigError(
                f"{source}: unknown section(s) {unknown}; valid sections: {list(_SECTIONS)}"
            )
        scan = dict(raw.get("scan", {}))
        bad = sorted(set(scan) - set(_SCAN_KEYS))
        if bad:
            raise ConfigError(
                f"{source}: unknown key(s) {bad} in [scan]; valid: {list(_SCAN_KEYS)}"
            )
        seed = scan.get("seed")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise ConfigError(f"{source}: [scan] seed must be an integer, found {seed!r}")
        ring = scan.get("max_ring_sellers")
        if ring is not None and (not isinstance(ring, int) or isinstance(ring, bool) or ring < 1):
            raise ConfigError(
                f"{source}: [scan] max_ring_sellers must be a positive integer, found {ring!r}"
            )
        return cls(
            rules={k: dict(v) for k, v in raw.get("rules", {}).items()},
            disabled=tuple(scan.get("disabled", ())),
            policy_text={k: dict(v) for k, v in raw.get("policy_text", {}).items()},
            detect=dict(raw.get("detect", {})),
            ratings=dict(raw.get("ratings", {})),
            seed=seed,
            as_of=_parse_time(scan["as_of"], source) if "as_of" in scan else None,
            max_ring_sellers=ring,
        )

    @classmethod
    def from_toml(cls, path: str | Path) -> ScanConfig:
        """Load a config file (see the module docstring for its layout)."""
        p = Path(path)
        if not p.is_file():
            raise InputNotFoundError(f"config file {p} does not exist; pass an existing .toml")
        try:
            raw = tomllib.loads(p.read_text(encoding="utf-8"))
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{p}: not valid TOML: {err}") from None
        return cls.from_mapping(raw, source=str(p))

    def params(self, rule_id: str) -> dict[str, Any]:
        """Return every threshold of ``rule_id``: its defaults with this config's overrides."""
        from graphkit.policy.registry import get_check

        defaults = get_check(rule_id).defaults()
        out = dict(defaults)
        for name, value in self.rules.get(rule_id, {}).items():
            out[name] = float(value) if isinstance(defaults[name], float) else value
        return out

    def to_dict(self) -> dict[str, Any]:
        """Return the effective parameters of every registered check (for ``run.json``)."""
        from graphkit.policy.context import MAX_RING_SELLERS
        from graphkit.policy.registry import checks

        return {
            "max_ring_sellers": self.max_ring_sellers or MAX_RING_SELLERS,
            "rules": {c.rule_id: self.params(c.rule_id) for c in checks()},
            "disabled": list(self.disabled),
            "policy_text": {k: dict(v) for k, v in sorted(self.policy_text.items())},
            "detect": dict(self.detect),
            "ratings": dict(self.ratings),
        }


def load_config(path: str | Path | None) -> ScanConfig:
    """Load a TOML config, or return the defaults when ``path`` is ``None``.

    Examples
    --------
    >>> load_config(None).disabled
    ()
    """
    return ScanConfig() if path is None else ScanConfig.from_toml(path)


def thresholds_table(config: ScanConfig | None = None) -> pl.DataFrame:
    """Every threshold of every check: rule id, name, default, effective value and reason.

    Examples
    --------
    >>> t = thresholds_table()
    >>> t.columns
    ['rule_id', 'name', 'default', 'value', 'reason']
    """
    from graphkit.policy.registry import checks

    cfg = config or ScanConfig()
    rows = [
        {
            "rule_id": c.rule_id,
            "name": t.name,
            "default": str(t.default),
            "value": str(cfg.params(c.rule_id)[t.name]),
            "reason": t.reason,
        }
        for c in checks()
        for t in c.thresholds
    ]
    schema = dict.fromkeys(("rule_id", "name", "default", "value", "reason"), pl.String)
    return pl.DataFrame(rows, schema=schema)


def _parse_time(value: Any, source: str) -> datetime:
    if isinstance(value, datetime):
        dt = value
    else:
        try:
            dt = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise ConfigError(
                f"{source}: [scan] as_of must be an ISO 8601 time, found {value!r}"
            ) from None
    return dt.replace(tzinfo=UTC) if dt.tzinfo is None else dt.astimezone(UTC)


def _validate(cfg: ScanConfig) -> None:
    from graphkit.policy.registry import checks

    registered = {c.rule_id: c for c in checks()}
    valid_rules = sorted(registered)
    problems: list[str] = []
    for where, keys in (
        ("rules", cfg.rules),
        ("policy_text", cfg.policy_text),
        ("disabled", cfg.disabled),
    ):
        unknown = sorted(set(keys) - set(registered))
        if unknown:
            problems.append(f"unknown rule id(s) {unknown} in [{where}]; valid: {valid_rules}")
    for rule_id, overrides in cfg.rules.items():
        check = registered.get(rule_id)
        if check is None:
            continue
        defaults = check.defaults()
        unknown = sorted(set(overrides) - set(defaults))
        if unknown:
            problems.append(
                f"unknown threshold(s) {unknown} in [rules.{rule_id}]; valid: {sorted(defaults)}"
            )
        for name, value in overrides.items():
            if name in defaults and not _same_kind(defaults[name], value):
                problems.append(
                    f"[rules.{rule_id}] {name} must be {type(defaults[name]).__name__} "
                    f"(default {defaults[name]!r}), found {value!r}"
                )
    for rule_id, text in cfg.policy_text.items():
        unknown = sorted(set(text) - set(_TEXT_KEYS))
        if unknown:
            problems.append(
                f"unknown key(s) {unknown} in [policy_text.{rule_id}]; valid: {list(_TEXT_KEYS)}"
            )
    if problems:
        raise ConfigError("invalid scan config:\n  - " + "\n  - ".join(problems))


def _same_kind(default: Any, value: Any) -> bool:
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, int | float):
        return isinstance(value, int | float)
    return isinstance(value, type(default))
