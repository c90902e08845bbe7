"""Run one benchmark by name: ``python -m insole_mtl.benchmarks <name> [options]``.

Each benchmark is a module ``insole_mtl.benchmarks.<name>`` exposing ``main(argv) -> dict``; it
logs its figures and ratios and returns them. ``python -m insole_mtl.benchmarks`` lists them.
"""

from __future__ import annotations

import importlib
import json
import logging
import pkgutil
import sys

import insole_mtl.benchmarks as _package


def _available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules(_package.__path__) if not m.name.startswith("_"))


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    names = _available()
    if not argv or argv[0] in {"-h", "--help"}:
        print("usage: python -m insole_mtl.benchmarks NAME [options]\navailable: " + ", ".join(names))
        return 0
    name, rest = argv[0], argv[1:]
    if name not in names:
        print(f"unknown benchmark {name!r}; available: {', '.join(names)}", file=sys.stderr)
        return 2
    result = importlib.import_module(f"insole_mtl.benchmarks.{name}").main(rest)
    print(json.dumps(result, indent=2, default=float))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
