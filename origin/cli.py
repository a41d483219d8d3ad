"""The ``aimixer`` command.

Each sub-command lives in its own module under :mod:`origin.commands` and exposes
``register(subparsers)``; the module's handler is stored as ``func`` on the parser.
Handlers return an exit code. Any :class:`CLIError` (or a DSP ``ParameterError``)
becomes a one-line message on stderr and a non-zero exit, never a traceback.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from typing import NoReturn

# Order here is the order shown in --help.
COMMAND_MODULES = (
    "process",
    "analyze",
    "features",
    "classify",
    "train",
    "corpus",
    "serve",
    "keys",
    "worker",
    "record",
    "sender",
    "discover",
    "demo",
    "edge",
)


class CLIError(Exception):
    """A user-facing error: printed as one line, exit status ``code``."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, exit 2, no usage dump
        self.exit(2, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="aimixer", description="AI Mixer: DSP, genre model, origin server and studio recorder"
    )
    parser.add_argument("--version", action="version", version=_version())
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name in COMMAND_MODULES:
        try:
            mod = importlib.import_module(f"origin.commands.{name}")
        except ModuleNotFoundError as exc:  # command not built yet in this checkout
            if exc.name and exc.name.startswith("origin.commands"):
                continue
            raise
        mod.register(sub)
    return parser


def _version() -> str:
    from origin import __version__

    return f"aimixer {__version__}"


#: the variables that set OpenBLAS's thread count (the operator's choice wins over ours)
BLAS_THREAD_VARS = ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")


def limit_blas_threads() -> None:
    """One BLAS thread per process unless the environment chooses: in this process (NumPy is
    already loaded) and, through ``OPENBLAS_NUM_THREADS``, in its children (job processes,
    Hypercorn workers). The DSP's matrix products are small; OpenBLAS's own threads then fight
    the origin's, the job workers' and each other for the cores, and under load a whole-file
    ``aimixer process`` ran 2.6x slower with them (README, "BLAS threads")."""
    if any(os.environ.get(v) for v in BLAS_THREAD_VARS):
        return
    os.environ["OPENBLAS_NUM_THREADS"] = "1"
    from threadpoolctl import threadpool_limits

    threadpool_limits(limits=1, user_api="blas")


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    from aimixer_dsp.backend import apply_env
    from aimixer_dsp.errors import DSPError

    try:
        limit_blas_threads()
        apply_env()  # $AIMIXER_DSP_BACKEND for the file commands (``serve`` has dsp_backend too)
        return int(args.func(args) or 0)
    except CLIError as exc:
        print(f"aimixer {args.command}: error: {exc}", file=sys.stderr)
        return exc.code
    except DSPError as exc:
        print(f"aimixer {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        return 0


if __name__ == "__main__":  # pragma: no cover
    # Re-import under the package name so commands' `from origin.cli import CLIError` is the
    # same class the dispatcher catches (running as __main__ would create a second copy).
    from origin.cli import main as _main

    sys.exit(_main())
