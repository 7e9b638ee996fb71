"""Shared helpers of the benchmark scripts: machine facts, child measurement, JSON, RESULTS.md.

Every number in ``benchmarks/RESULTS.md`` comes from a script: the scripts
write JSON (:func:`write_json`) and rewrite their own marked section of
RESULTS.md (:func:`update_section`, between ``<!-- BEGIN name -->`` and
``<!-- END name -->``), so nothing is hand-typed and other sections are left
alone.

Examples
--------
>>> replace_section("# R\\n", "demo", "| a |\\n", position="end")
'# R\\n\\n<!-- BEGIN demo -->\\n| a |\\n<!-- END demo -->\\n'
"""

from __future__ import annotations

import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "REPO",
    "ChildResult",
    "git_state",
    "load_average",
    "machine_info",
    "measure_child",
    "now_utc",
    "replace_section",
    "tree_rss_kib",
    "update_section",
    "wait_until_quiet",
    "write_json",
]

#: The repository root (the parent of ``benchmarks/``).
REPO = Path(__file__).resolve().parent.parent

_PACKAGES = ("graphkit", "polars", "igraph", "networkx", "numpy", "matplotlib", "jinja2")


def cpu_seconds() -> float:
    """CPU seconds (user + system) of this process, all threads, and of its reaped children.

    Above ``graphkit.detect.communities.CHILD_MIN_EDGES`` igraph's Leiden runs in a child
    process, reaped when its result is collected: its CPU counts where it was waited for.
    """
    import resource

    r = resource.getrusage(resource.RUSAGE_SELF)
    c = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime + c.ru_utime + c.ru_stime


def now_utc() -> str:
    """Return the current UTC time as ISO 8601 (seconds)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def load_average() -> list[float]:
    """Return the 1-, 5- and 15-minute load averages, rounded to 2 decimals."""
    return [round(x, 2) for x in os.getloadavg()]


def _cpu_model() -> str | None:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def _mem_total_gib() -> float | None:
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                return round(int(line.split()[1]) / 2**20, 2)
    except OSError:
        pass
    return None


def git_state(repo: Path = REPO) -> dict[str, Any]:
    """Return HEAD and the modified/untracked files of the (shared) working tree."""

    def git(*args: str) -> str:
        res = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, check=False)
        return res.stdout.strip()

    dirty = [line[3:] for line in git("status", "--porcelain").splitlines() if line]
    return {"head": git("rev-parse", "HEAD"), "dirty": sorted(dirty)}


def machine_info() -> dict[str, Any]:
    """Return the facts that make a number reproducible: CPU, cores, memory, OS, versions, git."""
    versions: dict[str, str | None] = {}
    for name in _PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        usable = os.cpu_count()
    return {
        "cpu_model": _cpu_model(),
        "cpus": os.cpu_count(),
        "cpus_usable": usable,
        "mem_total_gib": _mem_total_gib(),
        "os": platform.platform(),
        "python": platform.python_version(),
        "packages": versions,
        "git": git_state(),
    }


def write_json(path: str | os.PathLike[str], doc: Any) -> Path:
    """Write ``doc`` as indented JSON (atomically: temp file + rename); return the path."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(doc, fh, indent=1, default=str)
        fh.write("\n")
    os.replace(tmp, out)
    return out


def _markers(name: str) -> tuple[str, str]:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"section name {name!r}: use letters, digits, '_', '.', '-'")
    return f"<!-- BEGIN {name} -->", f"<!-- END {name} -->"


def replace_section(
    text: str, name: str, body: str, *, position: Literal["top", "end"] = "end"
) -> str:
    """Return ``text`` with the section ``name`` replaced by ``body`` (added when absent).

    Only the lines between ``<!-- BEGIN name -->`` and ``<!-- END name -->`` change.
    An absent section is added at the end, or with ``position="top"`` right after
    the first paragraph (the title and intro) of the document.
    """
    begin, end = _markers(name)
    block = f"{begin}\n{body.rstrip(chr(10))}\n{end}"
    i, j = text.find(begin), text.find(end)
    if i >= 0 and j > i:
        return text[:i] + block + text[j + len(end) :]
    if i >= 0 or j >= 0:
        raise ValueError(f"section {name!r}: unbalanced markers")
    if position == "top":
        cut = text.find("\n\n", text.find("\n\n") + 2) if text.startswith("#") else -1
        if cut < 0:
            return block + "\n\n" + text
        return text[: cut + 2] + block + "\n\n" + text[cut + 2 :]
    if not text:
        return block + "\n"
    text += "" if text.endswith("\n") else "\n"
    text += "" if text.endswith("\n\n") else "\n"
    return text + block + "\n"


def update_section(
    path: str | os.PathLike[str], name: str, body: str, *, position: Literal["top", "end"] = "end"
) -> Path:
    """Rewrite one marked section of a markdown file in place (see :func:`replace_section`)."""
    p = Path(path)
    text = p.read_text(encoding="utf-8") if p.exists() else ""
    new = replace_section(text, name, body, position=position)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.", suffix=".tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(new)
    os.replace(tmp, p)
    return p


def wait_until_quiet(
    max_load: float, *, max_wait_s: float, poll_s: float = 30.0, log: Any = print
) -> dict[str, Any]:
    """Wait until the 1-minute load average is below ``max_load`` or ``max_wait_s`` passed.

    Returns what happened: ``waited_s``, ``quiet`` (bool), ``load`` at the end.
    """
    t0 = time.monotonic()
    while True:
        load = load_average()
        waited = time.monotonic() - t0
        if load[0] < max_load or waited >= max_wait_s:
            return {"waited_s": round(waited, 1), "quiet": load[0] < max_load, "load": load}
        log(f"load {load[0]:.2f} >= {max_load}: waiting ({waited:.0f}/{max_wait_s:.0f} s)")
        time.sleep(min(poll_s, max(1.0, max_wait_s - waited)))


@dataclass(frozen=True)
class ChildResult:
    """Measurements of one child process.

    Attributes
    ----------
    returncode
        Exit code (``None`` when it was killed on timeout).
    wall_s, cpu_s
        Wall seconds and user + system CPU seconds of the child (all its threads).
    peak_rss_gib
        The child's peak resident set size (``ru_maxrss`` from ``wait4``: the largest of the
        child and of the descendants it waited for, each alone, never their sum).
    load_before, load_after
        Load averages when it started and ended.
    stdout, stderr
        Its output.
    timed_out
        Whether it was killed after the timeout.
    user_s, sys_s
        The user and the system (kernel: page faults, I/O) parts of ``cpu_s``.
    tree_peak_rss_gib
        The largest sum, sampled every 20 ms, of the resident sizes of the child and of its
        descendant processes (e.g. the scan's Leiden worker), leaving out a descendant with
        the child's own command line (a fork not yet replaced by its program, which only
        shares the child's pages); ``None`` where ``/proc`` is not available.
    """

    returncode: int | None
    wall_s: float
    cpu_s: float
    peak_rss_gib: float
    load_before: list[float]
    load_after: list[float]
    stdout: str
    stderr: str
    timed_out: bool
    user_s: float = 0.0
    sys_s: float = 0.0
    tree_peak_rss_gib: float | None = None

    def last_json(self) -> dict[str, Any] | None:
        """Return the last stdout line parsed as JSON (the child's report), or ``None``."""
        for line in reversed(self.stdout.strip().splitlines()):
            if line.startswith("{"):
                return json.loads(line)
        return None


def _proc_read(pid: int, name: str) -> bytes | None:
    try:
        with open(f"/proc/{pid}/{name}", "rb") as f:
            return f.read()
    except OSError:
        return None


def _rss_kib(pid: int) -> int:
    status = _proc_read(pid, "status") or b""
    for line in status.splitlines():
        if line.startswith(b"VmRSS:"):
            return int(line.split()[1])
    return 0


def _descendants(pid: int) -> list[int]:
    found, todo = [], [pid]
    while todo:
        p = todo.pop()
        for tid in os.listdir(f"/proc/{p}/task") if os.path.isdir(f"/proc/{p}/task") else []:
            kids = (_proc_read(p, f"task/{tid}/children") or b"").split()
            found += [int(k) for k in kids]
            todo += [int(k) for k in kids]
    return found


def tree_rss_kib(pid: int) -> int | None:
    """Resident KiB of process ``pid`` plus its descendants (fork copies left out).

    Examples
    --------
    >>> (tree_rss_kib(os.getpid()) or 1) > 0
    True
    """
    if not os.path.isdir(f"/proc/{pid}"):
        return None
    own_cmd = _proc_read(pid, "cmdline")
    total = _rss_kib(pid)
    for child in _descendants(pid):
        if _proc_read(child, "cmdline") != own_cmd:  # a fork not yet exec'd shares pages
            total += _rss_kib(child)
    return total


def measure_child(
    cmd: list[str],
    *,
    timeout_s: float | None = None,
    cwd: str | os.PathLike[str] | None = None,
    env: dict[str, str] | None = None,
) -> ChildResult:
    """Run ``cmd`` as a child process; return its wall time, CPU time and its own peak RSS.

    ``os.wait4`` gives the resource usage of exactly this child (not the maximum
    over all children so far, as ``RUSAGE_CHILDREN`` would). On timeout the
    child's process group (it runs in its own session) is killed.

    Examples
    --------
    >>> r = measure_child([sys.executable, "-c", "print(1)"])
    >>> r.returncode, r.stdout.strip()
    (0, '1')
    """
    load_before = load_average()
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(
            cmd, stdout=out, stderr=err, cwd=cwd, env=env, start_new_session=True
        )
        timed_out = False
        tree_peak: int | None = None
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            tree = tree_rss_kib(proc.pid)
            if tree is not None:
                tree_peak = max(tree_peak or 0, tree)
            if timeout_s is not None and time.perf_counter() - t0 > timeout_s:
                os.killpg(proc.pid, signal.SIGKILL)
                pid, status, usage = os.wait4(proc.pid, 0)
                timed_out = True
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # Popen must not wait again
        out.seek(0)
        err.seek(0)
        stdout = out.read().decode("utf-8", "replace")
        stderr = err.read().decode("utf-8", "replace")
    return ChildResult(
        returncode=None if timed_out else proc.returncode,
        wall_s=round(wall, 3),
        cpu_s=round(usage.ru_utime + usage.ru_stime, 3),
        peak_rss_gib=round(usage.ru_maxrss / 2**20, 3),
        tree_peak_rss_gib=None if tree_peak is None else round(tree_peak / 2**20, 3),
        load_before=load_before,
        load_after=load_average(),
        stdout=stdout,
        stderr=stderr,
        timed_out=timed_out,
        user_s=round(usage.ru_utime, 3),
        sys_s=round(usage.ru_stime, 3),
    )


if __name__ == "__main__":  # pragma: no cover
    json.dump(machine_info(), sys.stdout, indent=1)
    print()
