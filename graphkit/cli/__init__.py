"""The ``graphkit`` command.

One module per sub-command in this package; each defines ``HELP`` (one line),
``add_arguments(parser)`` and ``run(args) -> int``. Exit codes: 0 success,
1 internal error, 2 invalid input or usage; commands may document more
(``history``: 3 = new critical findings; ``verify``: 4 = bag altered). See
``docs/scheduled-runs.md``.

Examples
--------
>>> from graphkit.cli import main
>>> main(["--version"])  # doctest: +SKIP
graphkit 0.1.0
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

from graphkit.errors import GraphkitError

__all__ = ["COMMANDS", "main"]

#: Sub-command modules, in the order ``--help`` lists them. Add yours here.
COMMANDS: tuple[str, ...] = (
    "validate",
    "scan",
    "report",
    "export",
    "verify",
    "history",
    "simulate",
    "evaluate",
)

EXIT_OK, EXIT_INTERNAL, EXIT_INVALID = 0, 1, 2


def _parser() -> argparse.ArgumentParser:
    from graphkit import __version__

    parser = argparse.ArgumentParser(
        prog="graphkit",
        description="Graph analytics for marketplace trust & safety.",
    )
    parser.add_argument("--version", action="version", version=f"graphkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"graphkit.cli.{name}")
        p = sub.add_parser(name, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def _import_igraph_without_pyplot() -> None:
    """Import igraph with matplotlib hidden, so igraph does not load ``matplotlib.pyplot``.

    igraph imports pyplot when it is imported (for its own ``igraph.plot``): about
    0.6 s of wall and 0.35 CPU s for every command, pyplot's font and backend set-up
    included. No graphkit command draws with igraph (the report draws SVG; the evidence
    bag's figures import matplotlib themselves, which still works afterwards), so the
    command line imports igraph first with ``matplotlib`` unimportable. Library and
    notebook use keep igraph's plotting: only this process is affected.
    """
    if "igraph" in sys.modules or "matplotlib" in sys.modules:
        return
    sys.modules["matplotlib"] = None  # type: ignore[assignment]  # import -> ImportError
    try:
        import igraph  # noqa: F401
    except ImportError:  # igraph missing: the commands that need it say so themselves
        pass
    finally:
        del sys.modules["matplotlib"]


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``graphkit`` command line; return the exit code.

    Bad input (a :class:`~graphkit.errors.GraphkitError`) prints a readable
    message and exits 2; nothing else reaches the user as a traceback unless
    ``GRAPHKIT_DEBUG`` is set.
    """
    import os

    args = _parser().parse_args(argv)
    _import_igraph_without_pyplot()
    try:
        return int(args._run(args))
    except GraphkitError as err:
        print(f"graphkit {args.command}: {err}", file=sys.stderr)
        return EXIT_INVALID
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except Exception as err:
        if os.environ.get("GRAPHKIT_DEBUG"):
            raise
        print(
            f"graphkit {args.command}: internal error: {type(err).__name__}: {err}\n"
            "This is a bug in graphkit; re-run with GRAPHKIT_DEBUG=1 for the traceback.",
            file=sys.stderr,
        )
        return EXIT_INTERNAL


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
