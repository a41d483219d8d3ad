"""Run every ``bench/bench_*.py`` module's ``main()`` in turn: ``python -m bench [NAME ...]``.

With names (``chain``, ``mfcc`` or ``bench_chain``) only those run. Exit status is non-zero if
a benchmark fails to import or raises; targets are reported, never enforced.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
import time
import traceback
from pathlib import Path


def discover() -> list[str]:
    """Names of the benchmark modules in this package, sorted."""
    here = Path(__file__).resolve().parent
    return sorted(m.name for m in pkgutil.iter_modules([str(here)]) if m.name.startswith("bench_"))


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    names = discover()
    if argv:
        wanted = {a if a.startswith("bench_") else f"bench_{a}" for a in argv}
        unknown = wanted - set(names)
        if unknown:
            print(f"unknown benchmark(s): {', '.join(sorted(unknown))}; available: {', '.join(names)}")
            return 2
        names = [n for n in names if n in wanted]
    failed = []
    for name in names:
        print(f"==> {name}", flush=True)
        t0 = time.perf_counter()
        try:
            mod = importlib.import_module(f"bench.{name}")
            fn = getattr(mod, "main", None)
            if fn is None:
                print(f"{name}: no main(); skipped")
                continue
            rc = fn([]) if inspect.signature(fn).parameters else fn()
            if rc not in (None, 0):
                failed.append(name)
        except Exception:  # report and continue with the next benchmark
            traceback.print_exc()
            failed.append(name)
        print(f"<== {name} ({time.perf_counter() - t0:.1f} s)\n", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
