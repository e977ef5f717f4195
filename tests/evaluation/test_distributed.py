"""Sharding, launch detection and 2-process (gloo, CPU) runs of the evaluation.

The multi-process tests fork two ranks from the test process (no re-import: fast), each
with one thread, and compare the report of rank 0 with the report of
:func:`~captum_nas.evaluation.runner.evaluate` in this process, byte for byte.
"""

from __future__ import annotations

import json
import os
import random
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.multiprocessing as mp

from captum_nas.attr.registry import build_segmenter
from captum_nas.evaluation import attribution_fn, evaluate, flowers_batches, to_json
from captum_nas.evaluation.distributed import (
    DistributedJobError,
    Job,
    LaunchEnv,
    backend_for,
    evaluate_distributed,
    launch_env,
    shard_indices,
)
from captum_nas.evaluation.runner import aggregate, evaluate_images
from captum_nas.evaluation.shards import ShardStore
from captum_nas.pooling import segment_pool
from tests.conftest import TinyCNN

N_IMAGES = 5  # batches of one image: rank 0 gets batches 0, 2, 4 and rank 1 gets 1, 3
OPTIONS: dict[str, Any] = {"curves": True, "curve_steps": 2, "ground_truth": "object"}


@pytest.mark.parametrize("n", [0, 1, 2, 5, 7, 16])
@pytest.mark.parametrize("world", [1, 2, 3, 8])
def test_shards_are_disjoint_cover_everything_once_and_balanced(n: int, world: int) -> None:
    shards = [shard_indices(n, r, world) for r in range(world)]
    flat = [i for s in shards for i in s]
    assert sorted(flat) == list(range(n))  # every item exactly once, no padding
    sizes = [len(s) for s in shards]
    assert max(sizes) - min(sizes) <= 1
    assert shards == [shard_indices(n, r, world) for r in range(world)]  # deterministic
    assert all(s == sorted(s) for s in shards)


def test_shard_indices_known_answer_and_bad_input() -> None:
    assert shard_indices(7, 0, 3) == [0, 3, 6]
    assert shard_indices(7, 2, 3) == [2, 5]
    assert shard_indices(1, 1, 2) == []
    with pytest.raises(ValueError, match="rank"):
        shard_indices(4, 2, 2)
    with pytest.raises(ValueError, match="`n`"):
        shard_indices(-1, 0, 1)
    with pytest.raises(ValueError, match="world_size"):
        shard_indices(4, 0, 0)


def test_launch_env_reads_torchrun_variables() -> None:
    assert launch_env({}) == LaunchEnv(0, 1, 0)
    env = launch_env({"RANK": "3", "WORLD_SIZE": "4", "LOCAL_RANK": "1"})
    assert (env.rank, env.world_size, env.local_rank, env.distributed) == (3, 4, 1, True)
    with pytest.raises(ValueError, match="WORLD_SIZE"):
        launch_env({"WORLD_SIZE": "two"})
    with pytest.raises(ValueError, match="RANK=4"):
        launch_env({"RANK": "4", "WORLD_SIZE": "4"})
    assert backend_for("cpu") == "gloo"
    assert backend_for(torch.device("cuda", 1)) == "nccl"
    assert Job.start("cpu", environ={}).world_size == 1  # no torchrun: one process


def _setup() -> tuple[torch.nn.Module, dict[str, Any], dict[str, Any]]:
    torch.manual_seed(0)
    model = TinyCNN(n_classes=6).eval()
    methods = {"saliency": attribution_fn("saliency", model)}
    segmenters = {"none": None, "grid": build_segmenter("grid", model, 16, 0)}
    return model, methods, segmenters


def _batches() -> Iterator[Any]:
    return flowers_batches("single", n=N_IMAGES, batch_size=1, image_size=48)


def _pool(maps: torch.Tensor, segments: torch.Tensor) -> torch.Tensor:
    return segment_pool(maps, segments).map


@pytest.fixture(scope="module")
def reference() -> str:
    """The single-process report, computed with one thread like the ranks."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        model, methods, segmenters = _setup()
        report = evaluate(
            model, _batches(), methods, segmenters, pool=_pool, progress=False, **OPTIONS
        )
    finally:
        torch.set_num_threads(threads)
    return to_json(report)


def test_aggregate_of_shuffled_records_equals_evaluate(reference: str) -> None:
    model, methods, segmenters = _setup()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        records = evaluate_images(
            model, _batches(), methods, segmenters, pool=_pool, progress=False, **OPTIONS
        )
    finally:
        torch.set_num_threads(threads)
    assert len(records) == N_IMAGES
    random.Random(0).shuffle(records)
    assert to_json(aggregate(records, ground_truth="object")) == reference
    with pytest.raises(ValueError, match="more than once"):
        aggregate(records + records[:1])
    with pytest.raises(ValueError, match="empty"):
        aggregate([])


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, world: int, port: int, out: str, resume: bool, fail_at: int) -> None:
    """One rank: evaluate its batches; rank 1 raises on its ``fail_at``-th batch."""
    torch.set_num_threads(1)
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    model, methods, segmenters = _setup()
    calls: list[int] = []

    def counted(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        calls.append(1)
        if rank == 1 and len(calls) == fail_at:
            raise ValueError("injected failure")
        return methods["saliency"](x, t)

    env = {"RANK": str(rank), "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank)}
    result: dict[str, Any] = {"error": None, "report": None}
    try:
        with Job.start("cpu", timeout_s=120, environ=env) as job:
            report = evaluate_distributed(
                model,
                _batches(),
                {"saliency": counted},
                segmenters,
                pool=_pool,
                job=job,
                store=ShardStore(Path(out) / "shards", {"test": "distributed"}),
                resume=resume,
                progress=False,
                **OPTIONS,
            )
        result["report"] = None if report is None else to_json(report)
    except (ValueError, DistributedJobError) as err:
        result["error"] = f"{type(err).__name__}: {err}"
    result["calls"] = len(calls)
    (Path(out) / f"rank{rank}.json").write_text(json.dumps(result))


def _launch(out: Path, *, resume: bool, fail_at: int = 0) -> list[dict[str, Any]]:
    mp.start_processes(
        _worker,
        args=(2, _free_port(), str(out), resume, fail_at),
        nprocs=2,
        join=True,
        start_method="fork",
    )
    return [json.loads((out / f"rank{r}.json").read_text()) for r in range(2)]


def test_two_ranks_killed_half_way_then_resumed_equal_one_process(
    tmp_path: Path, reference: str
) -> None:
    # first run: rank 1 fails on its second batch (batch 3); the job fails with its error
    first = _launch(tmp_path, resume=False, fail_at=2)
    assert first[1]["error"] == "ValueError: rank 1: injected failure"
    assert first[0]["error"] is not None
    assert "rank 1 failed: ValueError: injected failure" in first[0]["error"]
    assert first[0]["report"] is None
    store = ShardStore(tmp_path / "shards", {"test": "distributed"})
    kept = store.indices()
    assert 1 in kept and 3 not in kept  # what rank 1 finished is on disk
    # resumed run: only the missing batches are computed, the report is the same
    second = _launch(tmp_path, resume=True)
    assert second[0]["error"] is None and second[1]["error"] is None
    assert second[1]["report"] is None  # only rank 0 reports
    assert second[0]["report"] == reference
    assert second[0]["calls"] + second[1]["calls"] == N_IMAGES - len(kept)
    assert second[1]["calls"] == 1  # batch 3
    assert store.indices() == list(range(N_IMAGES))


def test_resume_needs_a_store_and_matching_settings(tmp_path: Path) -> None:
    model, methods, segmenters = _setup()
    with pytest.raises(ValueError, match="needs a `store`"):
        evaluate_distributed(
            model, _batches(), methods, segmenters, pool=_pool, resume=True, progress=False
        )
    ShardStore(tmp_path, {"n": 1}).prepare(resume=False)
    with pytest.raises(ValueError, match=r"other settings.*n: stored 1, now 2"):
        evaluate_distributed(
            model,
            _batches(),
            methods,
            segmenters,
            pool=_pool,
            store=ShardStore(tmp_path, {"n": 2}),
            resume=True,
            progress=False,
        )
