"""Images per second of ``evaluate`` with 1 and 2 (or N) processes on the same work.

The same evaluation (synthetic flowers, the reference model, saliency and Grad-CAM
pooled over no segmenter, a grid and NAS, MoRF/LeRF curves) runs with 1 process and
with N ranks of a torch.distributed job (gloo on the CPU, nccl on GPUs), each rank
evaluating its share of the batches, rank 0 gathering the per-image records and
aggregating the report. Every configuration runs in fresh child processes; a rank's
clock starts after its setup (imports, model, process group: a fixed cost that does
not grow with the data) at a barrier and stops when rank 0 has the report, so the
figure is evaluation throughput. The reports of all configurations are compared too:
they must be equal (``reports_equal``).

``ratio`` is the time with N processes over the time with 1 (lower is better; the ideal
is 1/N). On a 2-core machine two CPU ranks can at best halve the time, and each rank
here runs one thread; with other jobs on the cores it is less.

Run: ``.venv/bin/python benchmarks/bench_distributed.py [--quick] [--procs 1,2]``;
on a machine with G GPUs: ``.venv/bin/python benchmarks/bench_distributed.py --device
cuda --procs 1,G``. The command line of the same job on its own:
``torchrun --standalone --nproc_per_node=G -m captum_nas.cli evaluate --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
import torch.multiprocessing as mp

N_IMAGES = 16
BATCH_SIZE = 4
IMAGE_SIZE = 128
QUICK = {"n": 8, "image_size": 64}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _rank(rank: int, world: int, port: int, device: str, n: int, size: int, out: str) -> None:
    """One rank of the job: set up, wait at a barrier, evaluate, report the time."""
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    from captum_nas.attr.registry import build_segmenter
    from captum_nas.evaluation import attribution_fn, flowers_batches, to_json
    from captum_nas.evaluation.distributed import Job, evaluate_distributed
    from captum_nas.models.loading import load_model
    from captum_nas.pooling import mean_pooled_map

    env = {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank)}
    with Job.start(device, timeout_s=1800, environ=env) as job:
        loaded = load_model("reference")
        model = loaded.model.to(job.device).eval()
        methods = {
            m: attribution_fn(m, model, model_name="reference") for m in ("saliency", "gradcam")
        }
        segmenters = {
            s: build_segmenter(s, model, 32, 0, to_image=loaded.normalizer.inverse)
            for s in ("none", "grid", "nas")
        }
        batches = flowers_batches(
            "single", n=n, batch_size=BATCH_SIZE, image_size=size, normalizer=loaded.normalizer
        )
        job.barrier()
        if job.device.type == "cuda":
            torch.cuda.synchronize(job.device)
        start = time.perf_counter()
        report = evaluate_distributed(
            model,
            batches,
            methods,
            segmenters,
            pool=mean_pooled_map,
            job=job,
            progress=False,
            curve_steps=8,
            device=job.device,
        )
        elapsed = time.perf_counter() - start
    if report is not None:
        Path(out).write_text(json.dumps({"seconds": elapsed, "report": to_json(report)}))


def _run_config(world: int, device: str, n: int, size: int) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = str(Path(tmp) / "rank0.json")
        mp.start_processes(
            _rank,
            args=(world, _free_port(), device, n, size, out),
            nprocs=world,
            join=True,
            # CUDA cannot be used in forked children of a process that touched it
            start_method="spawn" if torch.device(device).type == "cuda" else "fork",
        )
        result: dict[str, Any] = json.loads(Path(out).read_text())
        return result


def run(
    repeats: int = 1,
    *,
    quick: bool = False,
    device: str | torch.device = "cpu",
    procs: tuple[int, ...] = (1, 2),
) -> list[dict[str, Any]]:
    """One row per process count (the first is the baseline); ``repeats`` runs each
    (at most 2: each run starts fresh processes and takes minutes on 2 cores), the
    median time counts."""
    from _harness import Timing, make_row

    n = QUICK["n"] if quick else N_IMAGES
    size = QUICK["image_size"] if quick else IMAGE_SIZE
    dev = str(device)
    timings: dict[int, Timing] = {p: Timing() for p in procs}
    reports: dict[int, str] = {}
    for _ in range(1 if quick else min(max(1, repeats), 2)):
        for p in procs:  # interleaved, so that load from other jobs falls on every count
            result = _run_config(p, dev, n, size)
            timings[p].times.append(result["seconds"])
            reports[p] = result["report"]
            print(f"  {p} process(es): {result['seconds']:.2f} s", file=sys.stderr)
    base = timings[procs[0]]
    equal = len(set(reports.values())) == 1
    rows = []
    for p in procs:
        t = timings[p]
        rows.append(
            make_row(
                f"distributed evaluate, {p} process(es), {n} images {size}px, {dev}",
                t,
                base,
                target=f"<= {1.0 / p * 1.25:.2f}" if p > 1 else "",
                note=(
                    f"{n / t.median_s:.2f} images/s; ratio = time / time with "
                    f"{procs[0]} process(es); reports_equal={equal}"
                ),
            )
        )
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--procs", default="1,2", help="process counts, comma-separated")
    args = parser.parse_args()
    counts = tuple(int(p) for p in args.procs.split(","))
    for row in run(args.repeats, quick=args.quick, device=args.device, procs=counts):
        print(row)
