"""Run every ``benchmarks/bench_*.py`` module and print one markdown table.

Each module exposes ``run(repeats: int = 3)`` (optionally also a keyword ``quick``)
returning rows (a list of dicts, or a dict with a ``"rows"`` list) with keys ``name``,
``ours_s``, ``peer_s``, ``ratio``, ``target``, ``note`` and optionally ``peak_mb`` /
``peer_peak_mb``. A module that fails gives one row with the error, and the others
still run. The table is printed and written to ``<out>/results.md``; the raw rows go
to ``<out>/results.json``.

Usage::

    python benchmarks/run_all.py --out benchmarks/results [--only NAME] [--repeats N] [--quick]
                                 [--threads N] [--device cuda]

``--only`` takes a module name with or without the ``bench_`` prefix (``segmentation``)
and may be repeated; ``--quick`` asks modules that support it for a smaller run;
``--device`` (default ``cpu``) is passed to modules whose ``run`` takes ``device``:
our side computes there, peers that run on the CPU only (scikit-image, XRAI's
segmentation) stay there.
"""

from __future__ import annotations

import argparse
import importlib
import inspect
import json
import math
import platform
import sys
import time
import traceback
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))

from _harness import holds  # noqa: E402


def discover(only: list[str] | None = None) -> list[str]:
    """Names of the ``bench_*`` modules next to this file, filtered by ``only``."""
    names = sorted(p.stem for p in HERE.glob("bench_*.py"))
    if only:
        wanted = {o if o.startswith("bench_") else f"bench_{o}" for o in only}
        unknown = wanted - set(names)
        if unknown:
            raise SystemExit(f"--only: no module {sorted(unknown)}; available: {names}")
        names = [n for n in names if n in wanted]
    return names


def _rows_of(result: Any) -> list[dict[str, Any]]:
    if isinstance(result, dict):
        result = result.get("rows", [])
    return [dict(r) for r in result]


def run_module(name: str, repeats: int, quick: bool, device: str = "cpu") -> list[dict[str, Any]]:
    """Import ``name`` and return its rows, each tagged with ``module``."""
    start = time.perf_counter()
    try:
        module = importlib.import_module(name)
        run = getattr(module, "run", None)
        if run is None:
            return []
        kwargs: dict[str, Any] = {"repeats": repeats}
        params = inspect.signature(run).parameters
        if "quick" in params:
            kwargs["quick"] = quick
        if "device" in params:
            kwargs["device"] = device
        elif device != "cpu":
            return [{"name": f"{name}: skipped", "note": f"no `device` support ({device})"}]
        rows = _rows_of(run(**kwargs))
    except Exception as exc:  # one failing module must not hide the others
        traceback.print_exc()
        rows = [{"name": f"{name}: failed", "note": f"{type(exc).__name__}: {exc}"}]
    elapsed = time.perf_counter() - start
    for row in rows:
        row.setdefault("module", name)
    print(f"[{name}] {len(rows)} rows in {elapsed:.0f} s", file=sys.stderr)
    return rows


def _fmt_s(v: Any) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "-"
    return f"{v:.3f}"


def _fmt_mb(ours: Any, peer: Any) -> str:
    if ours is None and peer is None:
        return "n/a"
    a = "-" if ours is None else f"{ours:.0f}"
    return a if peer is None else f"{a} / {peer:.0f}"


def markdown(rows: list[dict[str, Any]]) -> str:
    """One markdown table of all rows."""
    lines = [
        "| row | ours (s) | peer/baseline (s) | ratio | target | holds | peak MiB (ours / peer) "
        "| note |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = r.get("ratio")
        ratio_s = "-" if ratio is None else f"{ratio:.2f}"
        note = str(r.get("note", "")).replace("|", "/").replace("\n", " ")
        lines.append(
            f"| {r.get('name', '?')} | {_fmt_s(r.get('ours_s'))} | {_fmt_s(r.get('peer_s'))} "
            f"| {ratio_s} | {r.get('target') or '-'} | {holds(ratio, r.get('target'))} "
            f"| {_fmt_mb(r.get('peak_mb'), r.get('peer_peak_mb'))} | {note} |"
        )
    return "\n".join(lines)


def _environment(device: str) -> str:
    import torch

    where = (
        torch.cuda.get_device_name(torch.device(device))
        if device.startswith("cuda")
        else f"{platform.machine()} ({platform.processor() or 'cpu'})"
    )
    return (
        f"Python {platform.python_version()}, torch {torch.__version__}, "
        f"{torch.get_num_threads()} torch threads, device {device}: {where}; "
        f"{time.strftime('%Y-%m-%d %H:%M')}"
    )


def main(argv: list[str] | None = None) -> int:
    """Command-line entry point; returns the exit status."""
    parser = argparse.ArgumentParser(description="Run the captum-nas benchmarks.")
    parser.add_argument("--out", type=Path, default=HERE / "results")
    parser.add_argument("--only", action="append", metavar="NAME")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true", help="smaller runs, 1 repeat")
    parser.add_argument(
        "--threads",
        type=int,
        default=None,
        help="torch CPU threads (default: torch's own); 1 gives stable figures on a loaded "
        "machine and matches the single-threaded peers",
    )
    parser.add_argument(
        "--device", default="cpu", help="where our side computes (cpu, cuda, cuda:1, ...)"
    )
    args = parser.parse_args(argv)
    import torch

    try:
        device = torch.device(args.device)
    except RuntimeError as err:
        parser.error(f"--device {args.device!r}: {err}")
    if device.type == "cuda" and not torch.cuda.is_available():
        parser.error(f"--device {args.device!r}: CUDA is not available here")
    if args.repeats < 1:
        parser.error(f"--repeats must be >= 1, got {args.repeats}")
    if args.threads is not None:
        if args.threads < 1:
            parser.error(f"--threads must be >= 1, got {args.threads}")
        torch.set_num_threads(args.threads)
    repeats = 1 if args.quick else args.repeats
    rows: list[dict[str, Any]] = []
    for name in discover(args.only):
        module_rows = run_module(name, repeats, args.quick, args.device)
        rows.extend(module_rows)
        print(markdown(module_rows), file=sys.stderr)  # progress, in case a later one hangs
    table = markdown(rows)
    header = (
        f"Benchmarks ({_environment(args.device)}; median of {repeats} after a warm-up"
        f"{', quick' if args.quick else ''}). ratio = ours / peer unless the note says "
        "otherwise.\n\n"
    )
    print(header + table)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "results.md").write_text(header + table + "\n")
    for row in rows:
        row["holds"] = holds(row.get("ratio"), row.get("target"))
    (args.out / "results.json").write_text(json.dumps(rows, indent=2, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
