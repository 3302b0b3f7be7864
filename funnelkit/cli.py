"""The ``funnelkit`` command: a thin argparse layer over the library.

Exit codes: 0 success, 1 a funnelkit error (bad data, bad parameters), 2 a
usage error (argparse).  Errors print as one clear line, never a traceback.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from funnelkit._version import __version__
from funnelkit.errors import FunnelkitError, FunnelkitWarning

if TYPE_CHECKING:
    import pandas as pd

    from funnelkit._sales_data import SalesData


def _build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="funnelkit",
        description="Sales and product funnel analytics on pandas.",
    )
    parser.add_argument("--version", action="version", version=f"funnelkit {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    from funnelkit._report import add_report_parser  # `funnelkit report`

    add_report_parser(sub)
    report_parser = sub.choices["report"]
    _add_file_options(report_parser)
    report_parser.set_defaults(report_parser=report_parser)

    demo = sub.add_parser(
        "demo",
        help="run the whole analysis on the bundled sample and write tables and pictures",
        description=(
            "Run every analysis funnelkit has on the bundled synthetic B2B sample "
            "(funnelkit.datasets.load_sample), print its tables in 100 columns and write "
            "report.html with every table (CSV) and picture (PNG) into a folder."
        ),
    )
    demo.add_argument(
        "--out",
        type=Path,
        default=Path("funnelkit-demo"),
        help="folder to write into (default: ./funnelkit-demo)",
    )
    demo.add_argument("--seed", type=int, default=0, help="seed of the sample (default 0)")
    demo.add_argument(
        "--force",
        action="store_true",
        help="replace files in --out that funnelkit did not write (default: refuse)",
    )
    _add_plan_parser(sub)
    return parser


def _stage_rates(text: str) -> dict[str, float]:
    """Parse ``lead=0.3,qualified=0.5`` (top of the funnel first)."""
    rates: dict[str, float] = {}
    for item in text.split(","):
        name, sep, value = item.partition("=")
        name = name.strip()
        try:
            rate = float(value)
        except ValueError:
            rate = float("nan")
        if not sep or not name or rate != rate or name in rates:
            msg = (
                f"invalid stage rates {text!r}: expected stage=rate pairs separated by "
                f"commas, each stage once, e.g. lead=0.3,qualified=0.5"
            )
            raise argparse.ArgumentTypeError(msg)
        rates[name] = rate
    return rates


def _names(text: str) -> list[str]:
    """Parse a comma-separated list of stage names."""
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        msg = f"invalid stage list {text!r}: expected names separated by commas"
        raise argparse.ArgumentTypeError(msg)
    return names


#: Renamed flags of ``funnelkit plan``, old spelling to new: the old one works for one release.
_OLD_FLAGS = {"--deal-size": "--avg-deal"}


class _Spelling(argparse.Action):
    """Store a flag's value, remembering which spelling gave it; two spellings clash."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        used: dict[str, str | None] = vars(namespace).setdefault("_spellings", {})
        first = used.setdefault(self.dest, option_string)
        if first != option_string:
            old, new = (
                (option_string, first) if option_string in _OLD_FLAGS else (first, option_string)
            )
            parser.error(f"give {new} only ({old} is its old spelling)")
        setattr(namespace, self.dest, values)


def _old_flag_notes(args: argparse.Namespace) -> None:
    """One line on stderr for each old spelling used, as the library's FutureWarning says it."""
    for flag in getattr(args, "_spellings", {}).values():
        if flag in _OLD_FLAGS:
            new = _OLD_FLAGS[flag]
            print(
                f"funnelkit: warning: {flag} is now spelled {new}; {flag} will stop working "
                f"in the next release.",
                file=sys.stderr,
            )


def _add_plan_parser(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from funnelkit._report import add_columns_argument

    plan = sub.add_parser(
        "plan",
        help="how many deals each stage needs to reach a revenue target, with the odds",
        description=(
            "Print the reverse funnel for a revenue target: the deals needed at each stage "
            "(the expected-value plan), the smallest counts that reach the target with the "
            "given confidence, and the chance the expected-value plan reaches it. Give "
            "--avg-deal and --win-rate, or --deals FILE (a CSV or Parquet deal export) to "
            "measure them."
        ),
    )
    plan.add_argument("--target", type=float, required=True, help="revenue to reach")
    plan.add_argument(
        "--avg-deal",
        action=_Spelling,
        type=float,
        metavar="AMOUNT",
        help="average won-deal amount",
    )
    plan.add_argument(
        "--deal-size",
        action=_Spelling,
        type=float,
        dest="avg_deal",
        metavar="AMOUNT",
        help="deprecated, use --avg-deal",
    )
    plan.add_argument("--win-rate", type=float, help="share of opportunities won, in (0, 1]")
    plan.add_argument(
        "--stage-rates",
        type=_stage_rates,
        metavar="STAGE=RATE,...",
        help=(
            "conversion of each stage before the opportunity stage into the next, top "
            "first, e.g. lead=0.3,qualified=0.5"
        ),
    )
    plan.add_argument(
        "--confidence",
        type=float,
        default=0.9,
        help="probability with which the target must be reached (default 0.9)",
    )
    plan.add_argument(
        "--deals",
        type=Path,
        metavar="FILE",
        help=(
            "deal table (CSV or Parquet) with deal_id, created_at, closed_at, status, amount; "
            "rates, deal sizes and cycle lengths are measured from it"
        ),
    )
    plan.add_argument(
        "--history",
        type=Path,
        metavar="FILE",
        help="stage history (CSV or Parquet) with deal_id, stage, entered_at (with --deals)",
    )
    plan.add_argument(
        "--stages",
        type=_names,
        metavar="STAGE,...",
        help="the stages of --history in funnel order, e.g. 'prospecting,proposal'",
    )
    add_columns_argument(plan)
    plan.add_argument("--period-end", help="date by which deals must close (with --deals)")
    plan.add_argument("--as-of", help="observation date (with --deals; default: latest date)")
    plan.add_argument("--seed", type=int, default=0, help="seed of the simulations (default 0)")
    _add_file_options(plan)
    plan.set_defaults(subparser=plan)


def _add_file_options(parser: argparse.ArgumentParser) -> None:
    """``--crm`` (read the files as that CRM exports them) and plain-file reading options."""
    from funnelkit.crm import CRMS

    group = parser.add_argument_group(
        "CRM exports and file reading",
        "With --crm, --deals and --history are the CRM's own files (UI export or API JSON) "
        "and are read by funnelkit.crm; without it, plain files are read by "
        "funnelkit.read_table with these options.",
    )
    group.add_argument(
        "--crm",
        choices=CRMS,
        help="read --deals / --history / --stage-metadata as this CRM exports them",
    )
    group.add_argument(
        "--stage-metadata",
        type=Path,
        metavar="FILE",
        help="the CRM's stage list (HubSpot pipelines, Salesforce OpportunityStage, Pipedrive "
        "stages, amoCRM pipelines, Bitrix24 crm.status.list); with --crm",
    )
    group.add_argument("--pipeline", help="analyse only this pipeline of the CRM (with --crm)")
    group.add_argument(
        "--timezone", help="the CRM account's time zone, e.g. Europe/Moscow (with --crm)"
    )
    group.add_argument("--sep", help="field separator of CSV files (default: sniffed)")
    group.add_argument("--encoding", help="encoding of CSV files (default: sniffed)")
    group.add_argument(
        "--dayfirst",
        action="store_true",
        default=None,
        help="dates such as 01/02/2024 are day first (1 February)",
    )


#: Canonical date columns parsed when --dayfirst is given.
_DATE_COLUMNS = ("created_at", "closed_at", "entered_at", "timestamp", "expected_close", "month")


def _plain_options(args: argparse.Namespace) -> bool:
    return any(getattr(args, k, None) is not None for k in ("sep", "encoding", "dayfirst"))


def _read_table(path: Path, what: str, args: argparse.Namespace | None = None) -> pd.DataFrame:
    """Read a CSV or Parquet file; one clear error naming the file."""
    import pandas as pd

    if args is not None and (_plain_options(args) or path.suffix.lower() in (".xlsx", ".json")):
        from funnelkit._io import read_table

        head = read_table(path, sep=args.sep, encoding=args.encoding)
        dates = [c for c in _DATE_COLUMNS if c in head.columns]
        return read_table(
            path, sep=args.sep, encoding=args.encoding, dayfirst=args.dayfirst, dates=dates
        )
    try:
        if path.suffix.lower() in (".parquet", ".pq"):
            return pd.read_parquet(path)
        return pd.read_csv(path)
    except (OSError, ValueError, ImportError) as exc:
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        reason = " ".join(reason.split())
        msg = f"cannot read the {what} file '{path}': {reason}"
        raise FunnelkitError(msg) from None


def _run_plan(args: argparse.Namespace) -> int:
    from funnelkit._format import format_frame
    from funnelkit._report import TERMINAL_WIDTH, cli_hint, wrap
    from funnelkit.planning import deals_needed, plan

    parser: argparse.ArgumentParser = args.subparser
    _old_flag_notes(args)
    _check_crm_flags(args, parser)
    if args.deals is None:
        if args.columns:
            parser.error("--columns needs --deals")
        for flag in ("history", "stages", "period_end", "as_of"):
            if getattr(args, flag) is not None:
                parser.error(f"--{flag.replace('_', '-')} needs --deals")
        if args.avg_deal is None or args.win_rate is None:
            parser.error("give --avg-deal and --win-rate, or --deals FILE to measure them")
        result = deals_needed(
            args.target,
            avg_deal=args.avg_deal,
            win_rate=args.win_rate,
            stage_rates=args.stage_rates,
            confidence=args.confidence,
            seed=args.seed,
        )
    else:
        for flag in ("avg_deal", "win_rate", "stage_rates"):
            if getattr(args, flag) is not None:
                parser.error(f"--{flag.replace('_', '-')} cannot be combined with --deals")
        if args.stages is not None and args.history is None:
            parser.error("--stages needs --history")
        history: pd.DataFrame | None
        if args.crm is not None:
            data = _read_crm(args)
            deals, history = data.deals, (None if args.history is None else data.history)
            if args.stages is None and data.stages and history is not None:
                args.stages = list(data.stages)
        else:
            deals = _read_table(args.deals, "deals", args)
            history = None if args.history is None else _read_table(args.history, "history", args)
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", FunnelkitWarning)
            try:
                result = plan(
                    deals,
                    args.target,
                    history=history,
                    stages=args.stages,
                    period_end=args.period_end,
                    confidence=args.confidence,
                    as_of=args.as_of,
                    seed=args.seed,
                    columns=args.columns,
                )
            except FunnelkitError as exc:
                files = str(args.deals) + ("" if args.history is None else f", {args.history}")
                msg = f"{files}: {cli_hint(str(exc))}"
                raise FunnelkitError(msg) from None
        for w in caught:
            print(f"funnelkit: warning: {w.message}", file=sys.stderr)
    # blocks of columns that repeat the stage, so no line is wider than the terminal
    print(format_frame(result, width=TERMINAL_WIDTH))
    print()
    print(wrap(_summary(result, args.target, args.confidence)))
    if "open_expected" in result.columns:
        expected = float(result["open_expected"].sum())
        print(
            wrap(
                f"The {int(result['open'].sum()):,} open deals are expected to bring "
                f"{expected:,.0f} ({expected / args.target:.0%} of the target) by the end of "
                f"the period; the needed columns count new deals for the rest."
            )
        )
    return 0


def _read_crm(args: argparse.Namespace) -> SalesData:
    """Read --deals / --history / --stage-metadata with the --crm reader."""
    from funnelkit.crm import read_crm

    try:
        return read_crm(
            args.crm,
            args.deals,
            history=args.history,
            stages=args.stage_metadata,
            pipeline=args.pipeline,
            timezone=args.timezone,
        )
    except FunnelkitError as exc:
        msg = f"--crm {args.crm}: {exc}"
        raise FunnelkitError(msg) from None


def _check_crm_flags(args: argparse.Namespace, parser: argparse.ArgumentParser) -> None:
    if args.crm is None:
        for flag in ("stage_metadata", "pipeline", "timezone"):
            if getattr(args, flag) is not None:
                parser.error(f"--{flag.replace('_', '-')} needs --crm")
    elif _plain_options(args):
        parser.error("--sep, --encoding and --dayfirst are for plain files, not with --crm")


def _report_files(args: argparse.Namespace, folder: Path) -> None:
    """Read --crm exports or plain files with options into Parquet files for the report."""
    tables = {}
    if args.crm is not None:
        data = _read_crm(args)
        tables["deals"] = data.deals
        if args.history is not None:
            tables["history"] = data.history
            if args.stages is None and data.stages:
                args.stages = list(data.stages)
    elif _plain_options(args) or any(
        p is not None and p.suffix.lower() in (".xlsx", ".json", ".jsonl")
        for p in (args.deals, args.history, args.events, args.touches, args.costs)
    ):
        for what in ("deals", "history", "events", "touches", "costs"):
            path = getattr(args, what)
            if path is not None:
                tables[what] = _read_table(path, what, args)
    for what, table in tables.items():
        if table is None:
            continue
        target = folder / f"{what}.parquet"
        table.to_parquet(target)
        setattr(args, what, target)


def _summary(result: pd.DataFrame, target: float, confidence: float) -> str:
    """One sentence: how likely the expected-value plan is to reach the target."""
    top = result.iloc[0]
    return (
        f"The expected-value plan ({int(top['needed']):,} deals at {top['stage']!s}) reaches "
        f"{target:,.0f} with probability {float(top['p_hit_target']):.0%}; "
        f"needed_for_confidence ({int(top['needed_for_confidence']):,} at {top['stage']!s}) "
        f"reaches it with probability at least {confidence:.0%}."
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``funnelkit`` command line; return the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "report":
            import tempfile

            from funnelkit._report import run_report_command

            _check_crm_flags(args, args.report_parser)
            with tempfile.TemporaryDirectory() as folder:
                _report_files(args, Path(folder))
                return run_report_command(args)
        if args.command == "demo":
            from funnelkit._demo import run_demo

            run_demo(args.out, seed=args.seed, overwrite=args.force)
            return 0
        if args.command == "plan":
            return _run_plan(args)
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
