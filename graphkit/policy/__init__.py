"""Policy checks: one module per marketplace policy, plugged into one registry.

Importing this package registers every built-in check. A check declares its
rule id, the tables and detection signals it needs and its thresholds
(defaults with reasons); :func:`checks` lists them in the order a scan runs
them.

Examples
--------
>>> from graphkit.policy import checks
>>> "UNPAID_ITEMS" in [c.rule_id for c in checks()]
True
"""

from __future__ import annotations

import importlib
import importlib.util

from graphkit.policy.context import ScanContext
from graphkit.policy.registry import (
    PolicyCheck,
    PolicyText,
    Threshold,
    checks,
    escalate,
    evidence,
    finalize_findings,
    get_check,
    policy_texts,
    register,
    severity_from_score,
    signal,
)

__all__ = [
    "BUILTIN_MODULES",
    "PolicyCheck",
    "PolicyText",
    "ScanContext",
    "Threshold",
    "checks",
    "escalate",
    "evidence",
    "finalize_findings",
    "get_check",
    "policy_texts",
    "register",
    "severity_from_score",
    "signal",
]

#: Modules of the built-in checks, imported (and so registered) with this package.
BUILTIN_MODULES: tuple[str, ...] = (
    "unpaid",
    "shill",
    "buyer_protection",
    "feedback_manipulation",
    "coupons",
    "spam",
    "extortion",
)

for _name in BUILTIN_MODULES:
    # a module not written yet is skipped (its rule is then absent from checks());
    # an error inside a present module is raised
    if importlib.util.find_spec(f"graphkit.policy.{_name}") is not None:
        importlib.import_module(f"graphkit.policy.{_name}")
