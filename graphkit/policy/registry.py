"""The policy registry: one :class:`PolicyCheck` per marketplace policy.

A check declares its rule id, the tables and detection signals it needs, and
its thresholds (each with a default and a one-line reason). The policy text
it enforces (title, section of the marketplace rules, wording) comes from
``rules.toml`` next to this module and can be overridden by an operator
through :class:`graphkit.config.ScanConfig`.

A check is a function ``(ctx, params) -> DataFrame`` that returns *draft*
findings (see :func:`finalize_findings` for the columns); the registry turns
them into the ``FINDINGS_SCHEMA`` table with deterministic ids.

Examples
--------
>>> from graphkit.policy.registry import Threshold, register, checks
>>> @register(
...     rule_id="DOC_EXAMPLE",
...     tables=("orders",),
...     thresholds=(Threshold("min_orders", 3, "three orders are a pattern"),),
...     builtin=False,
... )
... def check_example(ctx, params):
...     ...
>>> check_example.defaults()
{'min_orders': 3}
>>> unregister("DOC_EXAMPLE")
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import TYPE_CHECKING, Any

import polars as pl

from graphkit.findings import ACTIONS, EVIDENCE, FINDINGS_SCHEMA, SEVERITIES, SIGNAL, finding_ids

if TYPE_CHECKING:
    from graphkit.dataset import Dataset
    from graphkit.policy.context import ScanContext

__all__ = [
    "SIGNALS",
    "SIGNAL_DECIMALS",
    "CheckFn",
    "PolicyCheck",
    "PolicyText",
    "PrefetchFn",
    "Threshold",
    "checks",
    "days",
    "escalate",
    "evidence",
    "finalize_findings",
    "get_check",
    "policy_texts",
    "register",
    "severity_from_score",
    "signal",
    "unregister",
]

#: Detection results a check may declare it needs (computed once per scan by the context).
SIGNALS = ("groups", "ratings", "identity")

ThresholdValue = int | float | str | bool
CheckFn = Callable[["ScanContext", Mapping[str, Any]], pl.DataFrame]
PrefetchFn = Callable[["ScanContext", Mapping[str, Any]], None]


@dataclass(frozen=True)
class Threshold:
    """One tunable threshold of a check.

    Parameters
    ----------
    name
        Key in the check's config section (``[rules.<RULE_ID>]``).
    default
        Value used when the config does not set it.
    reason
        One line saying why the default is what it is.
    """

    name: str
    default: ThresholdValue
    reason: str


@dataclass(frozen=True)
class PolicyText:
    """The policy a rule enforces, as quoted in reports and evidence."""

    rule_id: str
    title: str
    section: str
    text: str


@dataclass(frozen=True)
class PolicyCheck:
    """A registered policy check.

    Parameters
    ----------
    rule_id
        Stable rule id of the output contract (``UNPAID_ITEMS``, ...).
    fn
        ``fn(ctx, params) -> DataFrame`` of draft findings (see :func:`finalize_findings`).
    tables
        Tables the check cannot run without; when one is missing the check is
        reported "not evaluated", never "clean".
    signals
        Detection results it reads from the context (subset of :data:`SIGNALS`).
    thresholds
        Its tunable thresholds, with defaults and reasons.
    optional_tables
        Tables it uses when present (better evidence) but does not need.
    prefetch
        Optional ``prefetch(ctx, params)``: computes, and keeps in the context
        (:meth:`~graphkit.policy.context.ScanContext.shared`), the part of the check that
        needs no detection result, so that a scan can run it while detection runs. The
        check's output must not depend on whether it ran.
    """

    rule_id: str
    fn: CheckFn
    tables: tuple[str, ...]
    signals: tuple[str, ...] = ()
    thresholds: tuple[Threshold, ...] = ()
    optional_tables: tuple[str, ...] = ()
    builtin: bool = field(default=True, compare=False)
    prefetch: PrefetchFn | None = field(default=None, compare=False)

    def __call__(self, ctx: ScanContext, params: Mapping[str, Any]) -> pl.DataFrame:
        """Run the check; return its draft findings."""
        return self.fn(ctx, params)

    def defaults(self) -> dict[str, ThresholdValue]:
        """Return ``{threshold name: default}``."""
        return {t.name: t.default for t in self.thresholds}

    def missing_tables(self, ds: Dataset) -> list[str]:
        """Return the required tables ``ds`` lacks (empty when the check can run)."""
        return [t for t in self.tables if not ds.has(t)]

    def not_evaluated_reason(self, ds: Dataset) -> str | None:
        """Return why the check cannot run on ``ds`` (``None`` when it can)."""
        missing = self.missing_tables(ds)
        if not missing:
            return None
        return "not evaluated (" + ", ".join(f"no {t} table" for t in missing) + ")"

    def text(self, overrides: Mapping[str, Mapping[str, str]] | None = None) -> PolicyText:
        """Return the policy text, with an operator's ``overrides`` applied."""
        base = policy_texts().get(
            self.rule_id, PolicyText(self.rule_id, self.rule_id, "", self.rule_id)
        )
        over = (overrides or {}).get(self.rule_id, {})
        return PolicyText(
            self.rule_id,
            over.get("title", base.title),
            over.get("section", base.section),
            over.get("text", base.text),
        )


_REGISTRY: dict[str, PolicyCheck] = {}


def register(
    *,
    rule_id: str,
    tables: Sequence[str],
    signals: Sequence[str] = (),
    thresholds: Sequence[Threshold] = (),
    optional_tables: Sequence[str] = (),
    builtin: bool = True,
    prefetch: PrefetchFn | None = None,
) -> Callable[[CheckFn], PolicyCheck]:
    """Register a check function under ``rule_id`` (decorator).

    Examples
    --------
    >>> @register(rule_id="DOC_DEMO", tables=("orders",), builtin=False)
    ... def demo(ctx, params):
    ...     ...
    >>> get_check("DOC_DEMO").tables
    ('orders',)
    >>> unregister("DOC_DEMO")
    """
    bad = [s for s in signals if s not in SIGNALS]
    if bad:
        raise ValueError(f"unknown signals {bad} for {rule_id}; expected a subset of {SIGNALS}")
    names = [t.name for t in thresholds]
    if len(set(names)) != len(names):
        raise ValueError(f"duplicate threshold names in {rule_id}: {names}")

    def decorate(fn: CheckFn) -> PolicyCheck:
        if rule_id in _REGISTRY and _REGISTRY[rule_id].fn is not fn:
            raise ValueError(f"rule id {rule_id!r} is already registered")
        check = PolicyCheck(
            rule_id=rule_id,
            fn=fn,
            tables=tuple(tables),
            signals=tuple(signals),
            thresholds=tuple(thresholds),
            optional_tables=tuple(optional_tables),
            builtin=builtin,
            prefetch=prefetch,
        )
        _REGISTRY[rule_id] = check
        return check

    return decorate


def unregister(rule_id: str) -> None:
    """Remove a check from the registry (tests and plug-in reloads)."""
    _REGISTRY.pop(rule_id, None)


def checks() -> tuple[PolicyCheck, ...]:
    """Return every registered check, sorted by rule id (the order a scan runs them).

    Examples
    --------
    >>> import graphkit.policy
    >>> "UNPAID_ITEMS" in [c.rule_id for c in checks()]
    True
    """
    _load_builtin()
    return tuple(_REGISTRY[k] for k in sorted(_REGISTRY))


def get_check(rule_id: str) -> PolicyCheck:
    """Return the check registered under ``rule_id``."""
    _load_builtin()
    try:
        return _REGISTRY[rule_id]
    except KeyError:
        raise KeyError(
            f"no check registered for {rule_id!r} (registered: {', '.join(sorted(_REGISTRY))})"
        ) from None


def _load_builtin() -> None:
    # importing the package imports every built-in check module
    import graphkit.policy  # noqa: F401


@cache
def policy_texts() -> dict[str, PolicyText]:
    """Return the built-in policy texts of ``rules.toml``, keyed by rule id."""
    raw = tomllib.loads(resources.files("graphkit.policy").joinpath("rules.toml").read_text())
    return {
        rid: PolicyText(rid, body["title"], body["section"], body["text"].strip())
        for rid, body in raw["rules"].items()
    }


# --- building blocks for checks -------------------------------------------------------------


#: Decimal places of a signal's numbers (reproducibility: see :func:`signal`).
SIGNAL_DECIMALS = 9


def signal(
    name: str,
    value: pl.Expr | float | str,
    *,
    threshold: pl.Expr | float | str | None = None,
    contribution: pl.Expr | float | str | None = None,
    detail: pl.Expr | str | None = None,
) -> pl.Expr:
    """Return a ``SIGNAL`` struct expression (one named signal with its numbers).

    ``value``, ``threshold`` and ``contribution`` are expressions, numbers, or
    column names (``str``); ``detail`` is an expression or literal text. Numbers are
    rounded to :data:`SIGNAL_DECIMALS` places: polars may compute the same quantity
    (``seconds / 86400``, say) one bit apart depending on how a frame is chunked,
    and findings must be byte-identical run to run.

    Examples
    --------
    >>> df = pl.DataFrame({"n": [3]})
    >>> df.select(signal("n_unpaid", pl.col("n"), threshold=1)).item()["value"]
    3.0
    """

    def _f(x: pl.Expr | float | str | None) -> pl.Expr:
        if x is None:
            return pl.lit(None, dtype=pl.Float64)
        if isinstance(x, str):
            return pl.col(x).cast(pl.Float64).round(SIGNAL_DECIMALS)
        return (x if isinstance(x, pl.Expr) else pl.lit(x)).cast(pl.Float64).round(SIGNAL_DECIMALS)

    det = detail if isinstance(detail, pl.Expr) else pl.lit(detail, dtype=pl.String)
    return pl.struct(
        name=pl.lit(name, dtype=pl.String),
        value=_f(value),
        threshold=_f(threshold),
        contribution=_f(contribution),
        detail=det.cast(pl.String),
    ).cast(SIGNAL)


def days(n: float) -> pl.Expr:
    """Return a duration expression of ``n`` days (whole microseconds, as the tables' times).

    Examples
    --------
    >>> pl.select(days(1.5)).item()
    datetime.timedelta(days=1, seconds=43200)
    """
    return pl.duration(microseconds=int(float(n) * 86_400_000_000))


def evidence(kind: str, ids: pl.Expr) -> pl.Expr:
    """Return a ``List(EVIDENCE)`` expression from a list-of-ids expression of one ``kind``.

    Examples
    --------
    >>> df = pl.DataFrame({"o": [["o1", "o2"]]})
    >>> df.select(evidence("order", pl.col("o"))).item().to_list()[0]
    {'kind': 'order', 'id': 'o1'}
    """
    return ids.list.eval(
        pl.struct(kind=pl.lit(kind, dtype=pl.String), id=pl.element().cast(pl.String))
    ).cast(pl.List(EVIDENCE))


def escalate(
    n: pl.Expr, steps: Sequence[tuple[float, str, str]], *, default: tuple[str, str]
) -> tuple[pl.Expr, pl.Expr]:
    """Return ``(action, severity)`` expressions of an escalation ladder.

    Parameters
    ----------
    n
        The count (or score) that climbs the ladder.
    steps
        ``(at_least, action, severity)`` rungs, in any order; the highest rung reached wins.
    default
        ``(action, severity)`` below the first rung.

    Examples
    --------
    >>> df = pl.DataFrame({"n": [1, 2, 5]})
    >>> act, sev = escalate(pl.col("n"), [(2, "restrict_buying", "medium"),
    ...                                    (4, "suspend", "high")], default=("warning", "low"))
    >>> df.select(act)["action"].to_list()
    ['warning', 'restrict_buying', 'suspend']
    """
    action = pl.lit(default[0])
    severity = pl.lit(default[1])
    for at, act, sev in sorted(steps, key=lambda s: s[0]):
        action = pl.when(n >= at).then(pl.lit(act)).otherwise(action)
        severity = pl.when(n >= at).then(pl.lit(sev)).otherwise(severity)
    return action.alias("action"), severity.alias("severity")


def severity_from_score(score: pl.Expr) -> pl.Expr:
    """Map a 0..1 score to ``low`` (<0.5), ``medium`` (<0.75), ``high`` (<0.9), ``critical``."""
    return (
        pl.when(score >= 0.9)
        .then(pl.lit("critical"))
        .when(score >= 0.75)
        .then(pl.lit("high"))
        .when(score >= 0.5)
        .then(pl.lit("medium"))
        .otherwise(pl.lit("low"))
    )


DRAFT_COLUMNS = (
    "subject_ids",
    "evidence",
    "score",
    "severity",
    "recommended_action",
    "explanation",
    "signals",
)


def finalize_findings(draft: pl.DataFrame, text: PolicyText) -> pl.DataFrame:
    """Turn a check's draft findings into the ``FINDINGS_SCHEMA`` table.

    Parameters
    ----------
    draft
        One row per finding with the columns ``subject_ids`` (list of account
        ids), ``evidence`` (``List(EVIDENCE)``, e.g. from :func:`evidence`),
        ``score`` (0..1), ``severity``, ``recommended_action``, ``explanation``,
        ``signals`` (``List(SIGNAL)``) and optionally ``group_id``,
        ``first_seen``, ``last_seen``.
    text
        The policy the check enforces (title and section are written on every row).

    Returns
    -------
    DataFrame
        Findings with deterministic ``finding_id``, sorted by ``finding_id``.

    Examples
    --------
    >>> draft = pl.DataFrame({"subject_ids": [["b1"]], "score": [0.5]}).with_columns(
    ...     evidence=evidence("order", pl.lit(["o1"])), severity=pl.lit("low"),
    ...     recommended_action=pl.lit("warning"), explanation=pl.lit("1 unpaid order"),
    ...     signals=pl.concat_list(signal("n_unpaid", 1)))
    >>> out = finalize_findings(draft, PolicyText("UNPAID_ITEMS", "Unpaid items", "s", "t"))
    >>> out["finding_id"][0].startswith("UNPAID_ITEMS-")
    True
    """
    missing = [c for c in DRAFT_COLUMNS if c not in draft.columns]
    if missing:
        raise ValueError(f"draft findings of {text.rule_id} lack columns {missing}")
    df = draft
    for col in ("group_id", "first_seen", "last_seen"):
        if col not in df.columns:
            df = df.with_columns(pl.lit(None, dtype=FINDINGS_SCHEMA[col]).alias(col))
    df = df.with_columns(
        subject_ids=pl.col("subject_ids").cast(pl.List(pl.String)).list.unique().list.sort(),
        evidence=pl.col("evidence").cast(pl.List(EVIDENCE)).list.unique().list.sort(),
        signals=pl.col("signals").cast(pl.List(SIGNAL)),
        score=pl.col("score").cast(pl.Float64).clip(0.0, 1.0).round(6),
    ).with_columns(
        evidence_ids=pl.col("evidence").list.eval(pl.element().struct.field("id")),
    )
    bad_sev = df.filter(~pl.col("severity").is_in(SEVERITIES)).height
    bad_act = df.filter(~pl.col("recommended_action").is_in(ACTIONS)).height
    if bad_sev or bad_act:
        raise ValueError(f"{text.rule_id}: {bad_sev} bad severities, {bad_act} bad actions")
    ids = finding_ids(text.rule_id, df["subject_ids"].to_list(), df["evidence_ids"].to_list())
    df = df.with_columns(
        finding_id=pl.Series(ids, dtype=pl.String),
        rule_id=pl.lit(text.rule_id, dtype=pl.String),
        policy=pl.lit(text.title, dtype=pl.String),
        section=pl.lit(text.section, dtype=pl.String),
    )
    out = df.select([pl.col(c).cast(t) for c, t in FINDINGS_SCHEMA.items()])
    return out.unique("finding_id", keep="first", maintain_order=True).sort("finding_id")
