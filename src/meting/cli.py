"""The `meting` console script.

Each subcommand is a thin wrapper over a package function; errors that a user can cause
(:class:`meting.errors.MetingError`) are printed without a traceback and give exit status 1; Ctrl-C prints one line and gives 130.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from meting.errors import MetingError

#: Exit status after Ctrl-C (128 + SIGINT), as shells report it.
EXIT_INTERRUPTED = 130


def _cmd_validate(args: argparse.Namespace) -> int:
    from meting.validate import validate_command

    return validate_command(args.paths, params_dir=args.params)


def _cmd_generate(args: argparse.Namespace) -> int:
    from meting.synthetic import generate_command

    return generate_command(
        args.waves,
        out_dir=args.out,
        params_dir=args.params,
        national=args.national,
        respondents=args.respondents,
        benchmark=args.benchmark,
    )


def _cmd_report(args: argparse.Namespace) -> int:
    from meting.report.build import report_command

    return report_command(
        args.only,
        params_dir=args.params,
        out_dir=args.out,
        jobs=args.jobs,
        national=args.national,
        limit=args.limit,
        scheduler=args.scheduler,
        force=args.force,
        municipalities_of=args.municipalities_of,
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="meting", description=__doc__.splitlines()[0])
    parser.add_argument(
        "--params",
        type=Path,
        default=None,
        help="parameter folder (default: the project's params/)",
    )
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("validate", help="check wave files against the data contract")
    p.add_argument("paths", nargs="+", type=Path, help="respondent (and organisation) files")
    p.set_defaults(func=_cmd_validate)

    p = sub.add_parser("generate", help="write the synthetic waves (seeded, deterministic)")
    p.add_argument("waves", nargs="*", help="wave labels (default: every synthetic wave)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: data/synthetic)")
    p.add_argument(
        "--national",
        action="store_true",
        help="the national waves: every municipality of the real division (params/nationaal/)",
    )
    p.add_argument("--respondents", type=int, default=None, help="respondents per wave")
    p.add_argument(
        "--benchmark", action="store_true", help="the fake national-scale wave of the benchmarks"
    )
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("report", help="render the reports (HTML and PDF)")
    p.add_argument("only", nargs="*", help="render only these reports (default: all)")
    p.add_argument("--out", type=Path, default=None, help="output folder (default: reports/)")
    p.add_argument("--jobs", type=int, default=None, help="parallel renders (default: cores)")
    p.add_argument(
        "--national",
        action="store_true",
        help="the national reports (params/nationaal/) into reports/nationaal/",
    )
    p.add_argument(
        "--limit",
        type=int,
        default=None,
        help="render at most this many municipality reports (spread over the code list)",
    )
    p.add_argument(
        "--municipalities-of",
        default=None,
        metavar="WAVE",
        help="the municipality reports of this wave, on its division (default: the latest wave)",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        metavar="tcp://HOST:PORT",
        help="run on this Dask scheduler (default: $DASK_SCHEDULER_ADDRESS, else a local cluster)",
    )
    p.add_argument(
        "--force", action="store_true", help="also render reports whose inputs are unchanged"
    )
    p.set_defaults(func=_cmd_report)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except MetingError as exc:
        print(f"meting {args.command}: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"meting {args.command}: afgebroken (Ctrl-C)", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
