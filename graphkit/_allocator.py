"""polars' allocator setting for graphkit, made before polars is imported.

polars allocates through its own jemalloc, configured by ``_RJEM_MALLOC_CONF`` (polars
appends that to its own defaults when it is imported). polars keeps freed pages "muzzy"
(``MADV_FREE``: still counted in the process's resident set) for a second; graphkit has them
returned at once. On the 10M-order simulated marketplace the scan then peaked at
5.14-5.31 GiB instead of 5.33-5.80 GiB, in the same time (``benchmarks/bench_allocator.py``,
section ``bench_allocator`` of ``benchmarks/RESULTS.md``). Nothing is changed when polars is
already imported (it has read its setting) or when the operator set ``_RJEM_MALLOC_CONF``.

Examples
--------
>>> from graphkit._allocator import ALLOCATOR_CONF
>>> ALLOCATOR_CONF
'muzzy_decay_ms:0'
"""

from __future__ import annotations

import os
import sys

__all__ = ["ALLOCATOR_CONF"]

#: Added to polars' jemalloc defaults (see the module docstring).
ALLOCATOR_CONF = "muzzy_decay_ms:0"

if "polars" not in sys.modules:
    os.environ.setdefault("_RJEM_MALLOC_CONF", ALLOCATOR_CONF)
