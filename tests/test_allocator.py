"""graphkit's polars allocator setting: made only before polars is imported, never over
the operator's."""

from __future__ import annotations

import os
import subprocess
import sys

from graphkit._allocator import ALLOCATOR_CONF

CODE = "import os\n{first}import graphkit\nprint(os.environ.get('_RJEM_MALLOC_CONF', ''))"


def _conf(first: str = "", env_conf: str | None = None) -> str:
    env = {k: v for k, v in os.environ.items() if k != "_RJEM_MALLOC_CONF"}
    if env_conf is not None:
        env["_RJEM_MALLOC_CONF"] = env_conf
    out = subprocess.run(
        [sys.executable, "-c", CODE.format(first=first)],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    return out.stdout.strip()


def test_graphkit_first_adds_its_setting_to_polars_defaults() -> None:
    conf = _conf()
    assert conf.endswith(ALLOCATOR_CONF)  # polars appends it to its own defaults
    assert ALLOCATOR_CONF == "muzzy_decay_ms:0"


def test_the_operators_setting_is_kept() -> None:
    assert ALLOCATOR_CONF not in _conf(env_conf="dirty_decay_ms:5000")
    assert _conf(env_conf="dirty_decay_ms:5000").endswith("dirty_decay_ms:5000")


def test_nothing_is_set_when_polars_came_first() -> None:
    assert ALLOCATOR_CONF not in _conf(first="import polars\n")
