"""The ``funnelkit`` command: a thin argparse layer over the library.

Exit codes: 0 success, 1 a funnelkit error (bad data, bad parameters), 2 a
usage error (argparse).  Errors print as one clear line, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from funnelkit._version import __version__
from funnelkit.errors import FunnelkitError


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="funnelkit",
        description="Sales and product funnel analytics on pandas.",
    )
    parser.add_argument("--version", action="version", version=f"funnelkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from funnelkit._report import add_report_parser  # `funnelkit report`

    add_report_parser(sub)

    demo = sub.add_parser(
        "demo",
        help="run the whole analysis on the bundled sample and write tables and pictures",
        description=(
            "Run every analysis funnelkit has on the bundled synthetic B2B sample "
            "(funnelkit.datasets.load_sample), print the headline tables and write "
            "tables (CSV) and pictures (PNG) into a folder."
        ),
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("funnelkit-demo"),
        help="folder to write into (default: ./funnelkit-demo)",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``funnelkit`` command line; return the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "report":
            from funnelkit._report import run_report_command

            return run_report_command(args)
        if args.command == "demo":
            from funnelkit._demo import run_demo

            run_demo(args.out, seed=args.seed)
            return 0
    except FunnelkitError as exc:
        print(f"funnelkit: error: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"funnelkit: error: {exc}", file=sys.stderr)
        return 1
    parser.error(f"unknown command {args.command!r}")
    return 2  # pragma: no cover - parser.error exits


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
