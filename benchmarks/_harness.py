"""Timing and memory helpers shared by the ``bench_*.py`` modules.

Timing: one warm-up call (first-call costs: allocator, lazy init, layer probing), then
``repeats`` timed calls; the median is reported. :func:`compare` interleaves the two
sides (ours, peer, ours, peer, ...) so that load from other processes on a shared
machine falls on both alike, and the ratio is taken within the same run.

Peak memory: ``tracemalloc`` does not see torch's allocations, so on CPU we measure the
process's resident set: the peak RSS during one call (``VmHWM`` from
``/proc/self/status``, reset just before the call by writing ``5`` to
``/proc/self/clear_refs``) minus the RSS before the call. It counts everything the
call touched (torch, numpy, Python), including memory freed again before it returns;
memory already cached by an allocator from the warm-up is not counted again, so it is
a lower bound of what a cold call would need. On CUDA inputs it is
``torch.cuda.max_memory_allocated`` over the call. Where neither is available (not
Linux), peak memory is ``None`` and shows as "n/a".
"""

from __future__ import annotations

import argparse
import gc
import operator
import re
import statistics
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

_STATUS = Path("/proc/self/status")
_CLEAR_REFS = Path("/proc/self/clear_refs")


@dataclass
class Timing:
    """Wall-clock times of the timed calls (seconds) and the peak memory of one call."""

    times: list[float] = field(default_factory=list)
    peak_mb: float | None = None

    @property
    def median_s(self) -> float:
        """Median of the timed calls."""
        return statistics.median(self.times) if self.times else float("nan")


def _status_kb(key: str) -> int | None:
    try:
        for line in _STATUS.read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1])
    except OSError:
        return None
    return None


def _reset_peak_rss() -> bool:
    try:
        _CLEAR_REFS.write_text("5")
    except OSError:
        return False
    return True


def peak_memory_mb(fn: Callable[[], Any], *, device: str | torch.device = "cpu") -> float | None:
    """Extra memory (MiB) at the peak of one call of ``fn`` above what was in use before.

    Args:
        fn: the call to measure.
        device: ``"cpu"`` (peak resident set of the process) or a CUDA device
            (``torch.cuda.max_memory_allocated``).

    Returns:
        MiB, or ``None`` where the platform does not expose a resettable peak.
    """
    dev = torch.device(device)
    gc.collect()
    if dev.type == "cuda":
        torch.cuda.synchronize(dev)
        torch.cuda.reset_peak_memory_stats(dev)
        before = torch.cuda.memory_allocated(dev)
        fn()
        torch.cuda.synchronize(dev)
        return (torch.cuda.max_memory_allocated(dev) - before) / 2**20
    before_kb = _status_kb("VmRSS")
    if before_kb is None or not _reset_peak_rss():
        fn()
        return None
    fn()
    peak_kb = _status_kb("VmHWM")
    if peak_kb is None:
        return None
    return max(0, peak_kb - before_kb) / 1024


def sync(device: torch.device) -> None:
    """Wait for the work queued on ``device`` (CUDA); nothing to wait for elsewhere."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _timed(fn: Callable[[], Any], device: torch.device) -> float:
    """Seconds one call of ``fn`` takes (CUDA work synchronised on both sides)."""
    sync(device)
    start = time.perf_counter()
    fn()
    sync(device)
    return time.perf_counter() - start


def measure(
    fn: Callable[[], Any],
    *,
    repeats: int = 3,
    warmup: int = 1,
    memory: bool = True,
    device: str | torch.device = "cpu",
) -> Timing:
    """Time ``fn``: ``warmup`` untimed calls, then ``repeats`` timed ones.

    Args:
        fn: the call to time (no arguments).
        repeats: number of timed calls (the median is reported).
        warmup: untimed calls first.
        memory: also measure the peak memory of one extra call.
        device: where ``fn`` computes (CUDA calls are synchronised before reading the
            clock).

    Returns:
        A :class:`Timing`.
    """
    dev = torch.device(device)
    for _ in range(warmup):
        fn()
    out = Timing()
    for _ in range(max(1, repeats)):
        out.times.append(_timed(fn, dev))
    if memory:
        out.peak_mb = peak_memory_mb(fn, device=dev)
    return out


def compare(
    ours: Callable[[], Any],
    peer: Callable[[], Any],
    *,
    repeats: int = 3,
    warmup: int = 1,
    memory: bool = True,
    device: str | torch.device = "cpu",
) -> tuple[Timing, Timing]:
    """Time two calls doing the same work, interleaved, in the same process.

    Returns:
        ``(ours, peer)`` timings; the ratio of their medians is the figure to report.
    """
    dev = torch.device(device)
    for _ in range(warmup):
        ours()
        peer()
    t_ours, t_peer = Timing(), Timing()
    for _ in range(max(1, repeats)):
        for fn, timing in ((ours, t_ours), (peer, t_peer)):
            timing.times.append(_timed(fn, dev))
    if memory:
        t_ours.peak_mb = peak_memory_mb(ours, device=dev)
        t_peer.peak_mb = peak_memory_mb(peer, device=dev)
    return t_ours, t_peer


def make_row(
    name: str,
    ours: Timing | float | None,
    peer: Timing | float | None,
    *,
    target: str = "",
    note: str = "",
) -> dict[str, Any]:
    """A result row: ``ratio`` is ours / peer (lower is better for a time).

    ``target`` is a condition on the ratio such as ``"<= 1.0"`` (see :func:`holds`).
    """
    ours_s = ours.median_s if isinstance(ours, Timing) else ours
    peer_s = peer.median_s if isinstance(peer, Timing) else peer
    ratio = ours_s / peer_s if ours_s is not None and peer_s else None
    return {
        "name": name,
        "ours_s": ours_s,
        "peer_s": peer_s,
        "ratio": ratio,
        "target": target,
        "note": note,
        "peak_mb": ours.peak_mb if isinstance(ours, Timing) else None,
        "peer_peak_mb": peer.peak_mb if isinstance(peer, Timing) else None,
    }


_OPS: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
}
_TARGET = re.compile(r"^\s*(<=|>=|<|>)\s*([0-9.eE+-]+)")


def holds(ratio: float | None, target: str | None) -> str:
    """``"yes"``/``"no"`` when ``target`` reads like ``"<= 1.0"``, else ``"n/a"``."""
    if ratio is None or not target:
        return "n/a"
    match = _TARGET.match(str(target))
    if match is None:
        return "n/a"
    return "yes" if _OPS[match.group(1)](float(ratio), float(match.group(2))) else "no"


def markdown_table(header: Sequence[str], cells: Iterable[Sequence[str]]) -> str:
    """A markdown table: the ``header`` row, the ``|---|`` rule, then one row per ``cells``."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines)


def comparison_markdown(
    rows: list[dict[str, Any]],
    *,
    seconds_digits: int = 4,
    ratio_format: str = "{:.3f}",
    peer: str = "peer",
    ratio: str = "ratio",
    target: bool = True,
) -> str:
    """The ours-vs-peer table of the ``bench_*.py`` modules (rows of :func:`make_row`).

    Args:
        rows: result rows with ``name``, ``ours_s``, ``peer_s``, ``ratio``, ``note``
            (and ``target`` when ``target`` is true).
        seconds_digits: decimals of the times.
        ratio_format: ``str.format`` pattern of the ratio.
        peer, ratio: the peer's name and the ratio's name in the header.
        target: add the ``target`` and ``holds`` columns.
    """
    checks = ["target", "holds"] if target else []
    header = ["benchmark", "ours (s)", f"{peer} (s)", ratio, *checks, "note"]

    def cells(r: dict[str, Any]) -> list[str]:
        times = [f"{r[key]:.{seconds_digits}f}" for key in ("ours_s", "peer_s")]
        verdict = [str(r["target"]), holds(r["ratio"], r["target"])] if target else []
        return [str(r["name"]), *times, ratio_format.format(r["ratio"]), *verdict, str(r["note"])]

    return markdown_table(header, map(cells, rows))


def run_module(doc: str | None, run: Callable[..., Any], markdown: Callable[[Any], str]) -> None:
    """Run a ``bench_*.py`` module on its own: parse :func:`module_args`, print the table."""
    args = module_args(doc)
    print(markdown(run(args.repeats, quick=args.quick, device=args.device)))


def map_cache_parser(doc: str | None) -> argparse.ArgumentParser:
    """A parser for the NAS scripts that share the pixel-map cache of ``scoreboard_nas.py``
    (``cached_maps``), described by the first line of ``doc``: ``--n-steps`` and
    ``--maps-photos`` name the photos cache, ``--out`` is where the caches and results go.
    """
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--n-steps", type=int, default=8, help="IG steps of the cached maps")
    parser.add_argument("--maps-photos", type=int, default=120, help="photos in the map cache")
    parser.add_argument("--out", type=Path, default=Path("benchmarks/results/nas"))
    return parser


def module_args(doc: str | None) -> argparse.Namespace:
    """Command-line options shared by the ``bench_*.py`` modules run on their own:
    ``--repeats``, ``--quick`` and ``--device``."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0] if doc else None)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    return parser.parse_args()
