"""NAS's work after the forward, this checkout's defaults against an older checkout's.

The two versions cannot share a process (same package name), so each round runs one
process per version, alternately, on the same 16 photos (``bench_segmentation.py``),
EfficientNet-Lite0, K = 32, one thread; each process caches the forward's activations,
warms up, and reports the median CPU time of ``--repeats`` calls. The ratio of the
medians over rounds is what is reported (CPU time, so waiting on a shared machine does
not count).

Run (the code as it was when the "no slower" target for the colour term was set)::

    git worktree add --detach /tmp/nas-then 6fb79fc
    OMP_NUM_THREADS=1 .venv/bin/python benchmarks/nas_cost_then_now.py --then /tmp/nas-then
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
from bench_segmentation import photos

from captum_nas.models.pretrained import EFFICIENTNET_LITE_NORMALIZER

ROOT = Path(__file__).resolve().parents[1]

#: run in a fresh process with PYTHONPATH set to one checkout; prints the median seconds
_ONE_VERSION = """
import inspect, statistics, sys, time, torch
import captum_nas
torch.set_num_threads(1)
from captum_nas.models.pretrained import EFFICIENTNET_LITE_NORMALIZER, efficientnet_lite0
from captum_nas.segmentation import NASSegmenter
x = torch.load(sys.argv[1])
options = {}
if "to_image" in inspect.signature(NASSegmenter).parameters:  # the colour term's image
    options["to_image"] = EFFICIENTNET_LITE_NORMALIZER.inverse
nas = NASSegmenter(efficientnet_lite0(), n_segments=int(sys.argv[3]), **options)
acts = nas._activations(x, nas.layers_for(x))
nas._activations = lambda _x, _m: acts
nas(x)
times = []
for _ in range(int(sys.argv[2])):
    start = time.process_time()
    nas(x)
    times.append(time.process_time() - start)
print(captum_nas.__file__)
print(statistics.median(times))
"""


def _run(checkout: Path, images: Path, repeats: int, k: int) -> float:
    env = {**os.environ, "PYTHONPATH": str(checkout), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(  # -P: no current folder on sys.path, PYTHONPATH decides
        [sys.executable, "-P", "-c", _ONE_VERSION, str(images), str(repeats), str(k)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
    )
    package, seconds = out.stdout.strip().splitlines()[-2:]
    if not Path(package).resolve().is_relative_to(checkout.resolve()):
        raise RuntimeError(f"imported {package}, not the checkout {checkout}")
    return float(seconds)


def main(argv: list[str] | None = None) -> int:
    """Print both versions' times per round and the ratio of the medians."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--then", type=Path, required=True, help="the older checkout")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--n", type=int, default=16)
    parser.add_argument("--k", type=int, default=32)
    args = parser.parse_args(argv)
    if not (args.then / "captum_nas" / "segmentation" / "nas.py").is_file():
        parser.error(f"--then: {args.then} is not a captum-nas checkout")
    x = EFFICIENTNET_LITE_NORMALIZER(photos(args.n))
    times: dict[str, list[float]] = {"then": [], "now": []}
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "x.pt"
        torch.save(x, images)
        for r in range(args.rounds):
            for name, checkout in (("then", args.then), ("now", ROOT)):
                times[name].append(_run(checkout, images, args.repeats, args.k))
            print(f"round {r + 1}: then {times['then'][-1]:.3f} s, now {times['now'][-1]:.3f} s")
    then, now = statistics.median(times["then"]), statistics.median(times["now"])
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    print(
        f"NAS work after the forward, {args.n} x 224 px, K={args.k}, CPU time: then "
        f"{then:.3f} s, now {now:.3f} s, now / then {now / then:.2f} (load average {load:.2f})"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
