"""Case evidence: a BagIt bag (RFC 8493) for one group or finding, and its verification.

:func:`export_case` writes, atomically, a bag whose payload (``data/``) holds::

    case.json               findings, signals, quoted policy text, parameters, version,
                            input SHA-256s, what each file is
    case.html               standalone page of the case (opens offline, no script)
    findings.csv/.parquet   the case's findings
    evidence/<table>.csv    the evidence rows (orders, feedback, messages, disputes,
    evidence/<table>.parquet refunds, coupons, accounts, identifiers), CSV cells
                            starting with = + - @ neutralised
    graph/subgraph.graphml  the buyer->seller subgraph (networkx reads it back)
    graph/subgraph.gexf
    graph/subgraph.png      its drawing
    graph/timeline.png      orders / feedback / messages / cases over time

with SHA-256 payload and tag manifests. Every file name is fixed here; nothing
from the data becomes a path. :func:`verify_case` re-checks a bag
(``graphkit verify DIR``): one changed byte fails it.

With ``pseudonymise=True`` every account id (and identifier value) is replaced
by ``acct-<HMAC-SHA256(key, id)[:16]>`` in every file, also where ids appear
inside free text. The key is never written into the bag, nor any mapping; give
your own key to get the same pseudonyms across exports, or let graphkit make
a random one (returned once in :class:`ExportResult`).

Examples
--------
>>> res = export_case("runs/x", dataset=ds, group_id="G-ring-0a1b", out="case1")  # doctest: +SKIP
>>> verify_case(res.path).ok  # doctest: +SKIP
True
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from graphkit.errors import GraphkitError, InputNotFoundError
from graphkit.report.casegraph import case_graph, write_gexf, write_graphml
from graphkit.report.cases import CASE_TABLES, case_rows, evidence_order_ids
from graphkit.report.pseudonyms import pseudonymise, replace_ids
from graphkit.report.run import Run, input_hashes, load_run

if TYPE_CHECKING:
    from graphkit.dataset import Dataset

__all__ = ["EvidenceError", "ExportResult", "VerifyResult", "export_case", "verify_case"]


class EvidenceError(GraphkitError, ValueError):
    """An export was asked for something the run does not have, or a bag failed to verify."""


@dataclass(frozen=True)
class ExportResult:
    """What :func:`export_case` wrote.

    Attributes
    ----------
    path
        The bag folder.
    case_kind, case_id
        ``group`` or ``finding``, and its id.
    files
        Payload files (relative to ``data/``), sorted.
    generated_key
        The pseudonymisation key graphkit generated (hex), when it made one;
        show it to the user once, it is written nowhere.
    """

    path: Path
    case_kind: str
    case_id: str
    files: tuple[str, ...]
    generated_key: str | None = None


@dataclass(frozen=True)
class VerifyResult:
    """Outcome of :func:`verify_case`: ``ok`` and the problems found (empty when ok)."""

    path: Path
    ok: bool
    problems: tuple[str, ...] = field(default=())
    files: int = 0


def _map_list(values: Iterable[str] | None, mapping: Mapping[str, str]) -> list[str]:
    return sorted(mapping.get(v, v) for v in (values or []))


def _map_text(text: str | None, mapping: Mapping[str, str]) -> str | None:
    if text is None or not mapping:
        return text
    df = pl.DataFrame({"t": [text]}, schema={"t": pl.String})
    return df.select(replace_ids(pl.col("t"), mapping)).item()


# --- export -----------------------------------------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    return value


def _select_case(
    run: Run, group_id: str | None, finding_id: str | None
) -> tuple[str, str, dict[str, Any] | None, pl.DataFrame]:
    if (group_id is None) == (finding_id is None):
        raise EvidenceError("give exactly one of a group id or a finding id to export")
    if group_id is not None:
        g = run.groups.filter(pl.col("group_id") == group_id)
        if g.height == 0:
            ids = run.groups.sort("score", descending=True)["group_id"].head(5).to_list()
            raise EvidenceError(
                f"run {run.path} has no group {group_id!r}; highest-scoring groups: "
                f"{', '.join(ids) or '(none)'}"
            )
        findings = run.findings.filter(pl.col("group_id") == group_id).sort("finding_id")
        return "group", group_id, g.row(0, named=True), findings
    f = run.findings.filter(pl.col("finding_id") == finding_id)
    if f.height == 0:
        ids = run.findings["finding_id"].head(5).to_list()
        raise EvidenceError(
            f"run {run.path} has no finding {finding_id!r}; e.g. {', '.join(ids) or '(none)'}"
        )
    return "finding", str(finding_id), None, f


def _resolve_key(
    pseudonymise_ids: bool, key: str | bytes | None
) -> tuple[bytes | None, str | None]:
    if not pseudonymise_ids:
        return None, None
    if key is None:
        generated = secrets.token_hex(32)
        return bytes.fromhex(generated), generated
    if isinstance(key, str):
        if not key:
            raise EvidenceError("the pseudonymisation key is empty; give a non-empty key")
        return key.encode("utf-8"), None
    return key, None


def export_case(
    run: Run | str | Path,
    *,
    dataset: Dataset,
    out: str | Path,
    group_id: str | None = None,
    finding_id: str | None = None,
    pseudonymise_ids: bool = False,
    key: str | bytes | None = None,
    seed: int = 0,
) -> ExportResult:
    """Export one group or finding as a BagIt evidence bag.

    Parameters
    ----------
    run
        The run (or its folder).
    dataset
        The dataset the run was made from; its files must hash to the run's
        recorded SHA-256s (else :class:`~graphkit.report.html.DatasetMismatchError`).
    out
        The bag folder to write (replaced atomically if it exists).
    group_id, finding_id
        Exactly one: the case to export.
    pseudonymise_ids
        Replace account ids by keyed pseudonyms in every file.
    key
        The pseudonymisation key (text or bytes); ``None`` makes a random one,
        returned in ``ExportResult.generated_key``.
    seed
        Layout seed of the subgraph drawing.

    Returns
    -------
    ExportResult

    Examples
    --------
    >>> export_case("runs/x", dataset=ds, finding_id="UNPAID_ITEMS-348fa410df59",
    ...             out="cases/unpaid-1")  # doctest: +SKIP
    ExportResult(path=PosixPath('cases/unpaid-1'), case_kind='finding', ...)
    """
    import bagit

    from graphkit import __version__
    from graphkit.io import atomic_dir, write_csv_safe
    from graphkit.report.html import check_dataset, data_uri, environment, policy_quotes
    from graphkit.report.plots import figure_png, subgraph_plot, timeline_plot

    run = run if isinstance(run, Run) else load_run(run)
    kind, case_id, group, findings = _select_case(run, group_id, finding_id)
    check_dataset(run, dataset)
    if group is not None:
        accounts = set(group["member_ids"] or []) | set(group["seller_ids"] or [])
        sellers = set(group["seller_ids"] or [])
    else:
        accounts = set(findings["subject_ids"].explode().drop_nulls().to_list())
        sellers = set()
    evidence = [e for lst in findings["evidence"].to_list() for e in (lst or [])]
    rows = case_rows(dataset.tables, account_ids=accounts, evidence=evidence)
    ev_orders = evidence_order_ids(rows, evidence)
    key_bytes, generated = _resolve_key(pseudonymise_ids, key)
    mapping: dict[str, str] = {}
    if key_bytes is not None:
        subjects = findings["subject_ids"].explode().drop_nulls().to_list()
        acct_ev = [e["id"] for e in evidence if e.get("kind") == "account"]
        rows, mapping = pseudonymise(rows, key_bytes, extra_ids=[*accounts, *subjects, *acct_ev])
        findings = findings.with_columns(
            subject_ids=pl.col("subject_ids").list.eval(pl.element().replace(mapping)).list.sort(),
            evidence=pl.col("evidence").list.eval(
                pl.struct(
                    kind=pl.element().struct.field("kind"),
                    id=pl.when(pl.element().struct.field("kind") == "account")
                    .then(pl.element().struct.field("id").replace(mapping))
                    .otherwise(pl.element().struct.field("id")),
                )
            ),
            explanation=replace_ids(pl.col("explanation"), mapping),
            signals=pl.col("signals").list.eval(
                pl.element().struct.with_fields(
                    replace_ids(pl.field("detail"), mapping).alias("detail")
                )
            ),
        ).with_columns(evidence_ids=pl.col("evidence").list.eval(pl.element().struct.field("id")))
        accounts = {mapping.get(a, a) for a in accounts}
        sellers = {mapping.get(a, a) for a in sellers}
    day = (run.as_of or "1970-01-01")[:10]
    g = case_graph(
        rows.get(
            "orders",
            pl.DataFrame(
                schema={"order_id": pl.String, "buyer_id": pl.String, "seller_id": pl.String}
            ),
        ),
        account_ids=accounts,
        seller_ids=sellers,
        evidence_ids=ev_orders,
    )
    quotes = policy_quotes(sorted(set(findings["rule_id"].to_list())), findings)
    title = f"{kind} {case_id}"
    sub_png = figure_png(
        subgraph_plot(
            rows.get(
                "orders",
                pl.DataFrame(
                    schema={"order_id": pl.String, "buyer_id": pl.String, "seller_id": pl.String}
                ),
            ),
            account_ids=accounts,
            seller_ids=sellers,
            evidence_ids=ev_orders,
            seed=seed,
            max_nodes=400,
            title=title,
        ),
        size=(7.0, 5.0),
        dpi=110,
    )
    tl_png = figure_png(timeline_plot(rows, title=f"{title}: activity"), size=(7.0, 2.6), dpi=110)

    files: dict[str, str] = {
        "case.json": "this description",
        "case.html": "standalone page of the case (offline, no script)",
        "findings.csv": "the case's findings (CSV, formula-like cells neutralised)",
        "findings.parquet": "the case's findings (Parquet, full types)",
        "graph/subgraph.graphml": "buyer->seller subgraph, orders aggregated per pair",
        "graph/subgraph.gexf": "the same subgraph as GEXF",
        "graph/subgraph.png": "drawing of the subgraph (buyers circles, sellers squares, "
        "evidence orders red)",
        "graph/timeline.png": "orders, feedback, messages and cases over time",
    }
    for table in rows:
        files[f"evidence/{table}.csv"] = f"evidence rows of {table} (CSV)"
        files[f"evidence/{table}.parquet"] = f"evidence rows of {table} (Parquet)"
    group_json = None
    if group is not None:
        group_json = {
            "group_id": group["group_id"],
            "kind": group["kind"],
            "score": group["score"],
            "member_ids": _map_list(group["member_ids"], mapping),
            "seller_ids": _map_list(group["seller_ids"], mapping),
            "signals": [
                {**s, "detail": _map_text(s.get("detail"), mapping)}
                for s in (group["signals"] or [])
            ],
        }
    case = {
        "case": {"kind": kind, "id": case_id},
        "graphkit_version": __version__,
        "run": {
            "name": run.name,
            "as_of": run.as_of,
            "seed": run.meta.get("seed"),
            "version": run.version,
            "parameters": run.meta.get("parameters", {}),
            "input_sha256": dict(sorted(input_hashes(run.meta).items())),
        },
        "group": group_json,
        "findings": findings.sort("finding_id").to_dicts(),
        "policies": quotes,
        "evidence_rows": {t: df.height for t, df in rows.items()},
        "graph": {"nodes": g.number_of_nodes(), "edges": g.number_of_edges()},
        "pseudonymised": key_bytes is not None,
        "pseudonymisation": (
            "account ids replaced by acct-<first 16 hex of HMAC-SHA256(key, id)>, identifier "
            "values by ident-<...>; also inside free text (substring match). The key and the "
            "mapping are not in this bag."
            if key_bytes is not None
            else None
        ),
        "files": dict(sorted(files.items())),
    }
    case_html = (
        environment()
        .get_template("case.html")
        .render(
            case=case,
            title=title,
            findings=_case_findings(findings),
            group=group_json,
            quotes=[{"rule_id": r, **q} for r, q in sorted(quotes.items())],
            subgraph_png=data_uri(sub_png),
            timeline_png=data_uri(tl_png),
            tables=_case_tables(rows),
        )
    )

    target = Path(out)
    with atomic_dir(target) as tmp:
        (tmp / "evidence").mkdir()
        (tmp / "graph").mkdir()
        (tmp / "case.json").write_text(
            json.dumps(_jsonable(case), indent=2, sort_keys=True, ensure_ascii=False) + "\n",
            encoding="utf-8",
        )
        (tmp / "case.html").write_text(case_html, encoding="utf-8")
        write_csv_safe(findings, tmp / "findings.csv")
        findings.write_parquet(tmp / "findings.parquet", statistics=False)
        for table, df in rows.items():
            write_csv_safe(df, tmp / "evidence" / f"{table}.csv")
            df.write_parquet(tmp / "evidence" / f"{table}.parquet", statistics=False)
        write_graphml(g, tmp / "graph" / "subgraph.graphml")
        write_gexf(g, tmp / "graph" / "subgraph.gexf", day=day)
        (tmp / "graph" / "subgraph.png").write_bytes(sub_png)
        (tmp / "graph" / "timeline.png").write_bytes(tl_png)
        bagit.make_bag(
            str(tmp),
            {
                "Bag-Software-Agent": f"graphkit {__version__}",
                "External-Identifier": f"{kind}:{case_id}",
                "External-Description": f"graphkit evidence for {kind} {case_id} of run "
                f"{run.name} (as of {run.as_of})",
            },
            processes=1,
            checksums=["sha256"],
        )
    return ExportResult(
        path=target,
        case_kind=kind,
        case_id=case_id,
        files=tuple(sorted(files)),
        generated_key=generated,
    )


def _case_findings(findings: pl.DataFrame) -> list[dict[str, Any]]:
    from graphkit.report.html import _fmt_signal

    return [
        {
            "finding_id": r["finding_id"],
            "rule_id": r["rule_id"],
            "policy": r["policy"],
            "severity": r["severity"],
            "score": f"{r['score']:.3f}" if r["score"] is not None else "",
            "action": r["recommended_action"],
            "subjects": ", ".join(r["subject_ids"] or []),
            "evidence": ", ".join(f"{e['kind']}:{e['id']}" for e in (r["evidence"] or [])),
            "explanation": r["explanation"] or "",
            "signals": [_fmt_signal(s) for s in (r["signals"] or [])],
        }
        for r in findings.sort("finding_id").iter_rows(named=True)
    ]


def _case_tables(rows: Mapping[str, pl.DataFrame], cap: int = 2000) -> list[dict[str, Any]]:
    out = []
    for table in CASE_TABLES:
        if table not in rows:
            continue
        df = rows[table]
        shown = df.head(cap).with_columns(
            [pl.col(c).cast(pl.String) for c, t in df.schema.items() if t != pl.String]
        )
        out.append(
            {
                "name": table,
                "columns": df.columns,
                "rows": shown.rows(),
                "n": df.height,
                "hidden": max(df.height - cap, 0),
            }
        )
    return out


# --- verify -----------------------------------------------------------------------------------


def verify_case(path: str | Path) -> VerifyResult:
    """Re-check an evidence bag: structure, SHA-256 manifests and every payload byte.

    Parameters
    ----------
    path
        The bag folder written by :func:`export_case`.

    Returns
    -------
    VerifyResult
        ``ok`` is ``True`` only when the bag is complete and every file
        matches its SHA-256; ``problems`` lists what failed otherwise.

    Raises
    ------
    InputNotFoundError
        When ``path`` is not a folder.

    Examples
    --------
    >>> verify_case("cases/unpaid-1").ok  # doctest: +SKIP
    True
    """
    import bagit

    root = Path(path)
    if not root.is_dir():
        raise InputNotFoundError(f"evidence folder {root} does not exist")
    try:
        bag = bagit.Bag(str(root))
    except bagit.BagError as err:
        return VerifyResult(root, False, (f"not a valid bag: {err}",))
    problems: list[str] = []
    if "sha256" not in bag.algorithms:
        problems.append(f"bag has no SHA-256 manifest (algorithms: {', '.join(bag.algorithms)})")
    if not (root / "tagmanifest-sha256.txt").is_file():
        problems.append("bag has no tagmanifest-sha256.txt: bag-info and manifests are unprotected")
    # every file, listed: bagit stops at the first kind of failure
    problems += _check_files(root, dict(bag.payload_entries()), set(bag.payload_files()))
    problems += _check_files(root, _tag_entries(root), None)
    if not problems:
        try:
            bag.validate(processes=1, fast=False, completeness_only=False)
        except bagit.BagValidationError as err:
            problems.extend([str(d) for d in getattr(err, "details", [])] or [str(err)])
        except bagit.BagError as err:
            problems.append(str(err))
    if not (root / "data" / "case.json").is_file():
        problems.append("payload lacks data/case.json")
    n = sum(1 for _ in bag.payload_files())
    return VerifyResult(root, not problems, tuple(problems), n)


def _tag_entries(root: Path) -> dict[str, dict[str, str]]:
    manifest = root / "tagmanifest-sha256.txt"
    if not manifest.is_file():
        return {}
    out: dict[str, dict[str, str]] = {}
    for line in manifest.read_text(encoding="utf-8").splitlines():
        if line.strip():
            digest, _, name = line.partition(" ")
            out[name.strip().lstrip("*")] = {"sha256": digest.strip()}
    return out


def _check_files(
    root: Path, entries: Mapping[str, Mapping[str, str]], on_disk: set[str] | None
) -> list[str]:
    """Compare listed SHA-256s with the files; report missing, unlisted and altered ones."""
    from graphkit.io import file_sha256

    problems = []
    listed = set(entries)
    if on_disk is not None:
        problems += [f"{p}: present but not in the manifest" for p in sorted(on_disk - listed)]
    base = root.resolve()
    for name in sorted(listed):
        path = (root / name).resolve()
        if base not in path.parents:
            problems.append(f"{name}: path leaves the bag")
            continue
        if not path.is_file():
            problems.append(f"{name}: listed in the manifest but missing")
            continue
        expected = entries[name].get("sha256")
        if expected is not None and file_sha256(path) != expected:
            problems.append(f"{name}: SHA-256 differs from the manifest (file altered)")
    return problems
