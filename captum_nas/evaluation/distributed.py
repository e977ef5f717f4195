"""``evaluate`` and ``explain`` over many processes, GPUs and nodes with torch.distributed.

Launch with PyTorch's own launcher; every process runs the same command::

    torchrun --standalone --nproc_per_node=2 -m captum_nas.cli evaluate --num-images 200

torchrun sets ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (:func:`launch_env` reads
them); :meth:`Job.start` joins the process group (``gloo`` on the CPU, ``nccl`` on CUDA,
each rank on ``cuda:LOCAL_RANK``). Without those variables a :class:`Job` is one process
and nothing here touches torch.distributed.

Work is split by :func:`shard_indices`: item ``i`` goes to rank ``i % world_size``, so
the shards are disjoint, cover every item once, differ in size by at most one and have
no padding duplicates (unlike ``DistributedSampler``). ``evaluate`` shards *batches*, not
images: the methods and segmenters seed their sampling per call, so an image's numbers
depend on the batch it is in, and keeping the batches of a single-process run is what
makes the gathered report equal to the single-process one number for number.

Results go to rank 0 with ``gather_object``. A rank that fails publishes its error in the
process group's store and exits non-zero; the others stop at their next batch with
that rank's error (and torchrun ends a group whose worker exits non-zero). Every wait has
a deadline (``timeout_s``), so nothing hangs forever. Rank 0 shows one progress bar for
the whole job, fed by a counter in the store.

Example:
    >>> from captum_nas.evaluation import attribution_fn
    >>> from captum_nas.pooling import segment_pool
    >>> batches = [EvalBatch(images, labels, boxes=[torch.tensor([[8, 8, 24, 24]])] * 2)] * 2
    >>> fns = {"saliency": attribution_fn("saliency", model)}
    >>> segs = {"none": None}
    >>> p = lambda maps, segments: segment_pool(maps, segments).map
    >>> with Job.start("cpu") as job:      # one process here; under torchrun, one per rank
    ...     report = evaluate_distributed(
    ...         model, batches, fns, segs, pool=p, job=job, progress=False, curves=False
    ...     )
    >>> job.world_size, report.n_images   # report on rank 0, None on the others
    (1, 4)
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from types import TracebackType
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from captum_nas._signature import expand_options
from captum_nas._validation import check_positive_int
from captum_nas.evaluation.data import EvalBatch
from captum_nas.evaluation.methods import AttributionFn
from captum_nas.evaluation.runner import (
    EvaluationReport,
    ImageRecord,
    RunOptions,
    SegmenterFn,
    aggregate,
    batch_evaluator,
    evaluate_images,
)
from captum_nas.evaluation.shards import ShardStore

if TYPE_CHECKING:
    from typing_extensions import Unpack  # typing.Unpack from Python 3.11

__all__ = [
    "DEFAULT_TIMEOUT_S",
    "DistributedJobError",
    "Job",
    "LaunchEnv",
    "backend_for",
    "evaluate_distributed",
    "launch_env",
    "shard_indices",
]

#: default deadline of every wait (collectives, the final rendezvous), in seconds
DEFAULT_TIMEOUT_S = 1800.0

_FAILED = "captum_nas/failed"
_DONE = "captum_nas/done"
_PROGRESS = "captum_nas/progress"


class DistributedJobError(RuntimeError):
    """Another rank of the job failed (the message names it and carries its error),
    or a wait ran past its deadline."""


@dataclass(frozen=True)
class LaunchEnv:
    """Where this process sits in a job: torchrun's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0

    @property
    def distributed(self) -> bool:
        """True when there is more than one process."""
        return self.world_size > 1


def _env_int(environ: Mapping[str, str], name: str, default: int, minimum: int) -> int:
    text = environ.get(name)
    if text is None or text == "":
        return default
    try:
        value = int(text)
    except ValueError:
        raise ValueError(f"environment variable {name} must be an integer, got {text!r}") from None
    if value < minimum:
        raise ValueError(f"environment variable {name} must be >= {minimum}, got {value}")
    return value


def launch_env(environ: Mapping[str, str] | None = None) -> LaunchEnv:
    """Read torchrun's ``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` (absent: one process).

    Args:
        environ: the environment (default ``os.environ``).

    Returns:
        A :class:`LaunchEnv`.

    Raises:
        ValueError: a variable that is not an integer, or a rank outside the world.

    Example:
        >>> launch_env({"RANK": "1", "WORLD_SIZE": "2", "LOCAL_RANK": "1"})
        LaunchEnv(rank=1, world_size=2, local_rank=1)
    """
    env = os.environ if environ is None else environ
    world = _env_int(env, "WORLD_SIZE", 1, 1)
    rank = _env_int(env, "RANK", 0, 0)
    local = _env_int(env, "LOCAL_RANK", rank, 0)
    if rank >= world:
        raise ValueError(f"environment variable RANK={rank} must be < WORLD_SIZE={world}")
    return LaunchEnv(rank=rank, world_size=world, local_rank=local)


def shard_indices(n: int, rank: int, world_size: int) -> list[int]:
    """The items ``0..n-1`` of ``rank``: ``rank, rank + world_size, ...``.

    Disjoint across ranks, every item exactly once, no padding; shard sizes differ by
    at most one (a rank may get none when ``n < world_size``).

    Args:
        n: number of items (>= 0).
        rank: this rank, ``0 <= rank < world_size``.
        world_size: number of ranks (>= 1).

    Returns:
        The item indices, ascending.

    Example:
        >>> shard_indices(5, 1, 2)
        [1, 3]
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 0:
        raise ValueError(f"`n` must be an int >= 0, got {n!r}")
    world_size = check_positive_int(world_size, "world_size")
    if isinstance(rank, bool) or not isinstance(rank, int) or not 0 <= rank < world_size:
        raise ValueError(f"`rank` must be an int in [0, {world_size}), got {rank!r}")
    return list(range(rank, n, world_size))


def backend_for(device: torch.device | str) -> str:
    """The process-group backend for a device: ``"nccl"`` for CUDA, ``"gloo"`` otherwise."""
    return "nccl" if torch.device(device).type == "cuda" else "gloo"


def _local_device(device: torch.device | str, env: LaunchEnv) -> torch.device:
    dev = torch.device(device)
    if dev.type == "cuda" and env.distributed:
        if not torch.cuda.is_available():
            raise ValueError(f"`device` is {device!r} but CUDA is not available")
        count = torch.cuda.device_count()
        if env.local_rank >= count:
            raise ValueError(
                f"LOCAL_RANK={env.local_rank} has no GPU: this node has {count}; start at "
                f"most {count} processes per node (--nproc_per_node)"
            )
        return torch.device("cuda", env.local_rank)
    return dev


class Job:
    """This process's part of a job of ``world_size`` processes (one without torchrun).

    Use :meth:`start` (as a context manager: it leaves the process group it joined).

    Attributes:
        rank: this process's rank.
        world_size: number of processes.
        local_rank: rank on this node.
        device: the device this rank computes on (``cuda:LOCAL_RANK`` on GPUs).
        timeout_s: deadline of every wait.
    """

    def __init__(
        self,
        env: LaunchEnv | None = None,
        device: torch.device | str = "cpu",
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.env = env or LaunchEnv()
        self.rank = self.env.rank
        self.world_size = self.env.world_size
        self.local_rank = self.env.local_rank
        if isinstance(timeout_s, bool) or not isinstance(timeout_s, int | float) or timeout_s <= 0:
            raise ValueError(f"`timeout_s` must be a number > 0, got {timeout_s!r}")
        self.timeout_s = float(timeout_s)
        self.device = _local_device(device, self.env)
        self._owns_group = False
        self._round = 0  # counters in the store are per round (one per evaluate/explain)
        self._local = 0
        self._bars: list[JobProgress] = []

    @classmethod
    def start(
        cls,
        device: torch.device | str = "cpu",
        *,
        timeout_s: float = DEFAULT_TIMEOUT_S,
        environ: Mapping[str, str] | None = None,
    ) -> Job:
        """Join the job torchrun launched (or make a one-process job).

        Args:
            device: the requested device; under torchrun ``cuda`` becomes
                ``cuda:LOCAL_RANK``.
            timeout_s: deadline of every collective and wait, in seconds.
            environ: the environment (default ``os.environ``).

        Returns:
            The :class:`Job`; the process group is initialised when there are several
            processes (``MASTER_ADDR``/``MASTER_PORT`` from torchrun).
        """
        job = cls(launch_env(environ), device, timeout_s=timeout_s)
        if job.world_size > 1:
            import torch.distributed as dist

            if not dist.is_available():
                raise RuntimeError("torch.distributed is not available in this PyTorch build")
            if job.device.type == "cuda":
                torch.cuda.set_device(job.device)
            if not dist.is_initialized():
                dist.init_process_group(
                    backend=backend_for(job.device),
                    timeout=timedelta(seconds=job.timeout_s),
                    rank=job.rank,
                    world_size=job.world_size,
                )
                job._owns_group = True
        return job

    @property
    def is_main(self) -> bool:
        """True on rank 0, which writes the report."""
        return self.rank == 0

    def __enter__(self) -> Job:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        err: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for bar in self._bars:  # before any error line is printed
            bar.close()
        if err is not None and not isinstance(err, DistributedJobError):
            self.fail(err)
        self.close()

    def close(self) -> None:
        """Leave the process group if :meth:`start` joined it."""
        if self._owns_group:
            import torch.distributed as dist

            if dist.is_initialized():
                dist.destroy_process_group()
            self._owns_group = False

    def shard(self, n: int) -> list[int]:
        """This rank's items of ``0..n-1`` (:func:`shard_indices`)."""
        return shard_indices(n, self.rank, self.world_size)

    def owns(self, index: int) -> bool:
        """Whether item ``index`` is this rank's."""
        return index % self.world_size == self.rank

    # the store: a failure flag, a done counter and the progress counter
    def _store(self) -> Any:
        if self.world_size == 1:
            return None
        from torch.distributed import distributed_c10d

        return distributed_c10d._get_default_store()

    def fail(self, err: BaseException) -> None:
        """Tell the other ranks that this one failed with ``err`` (best effort)."""
        store = self._store()
        if store is None:
            return
        text = (str(err).splitlines() or [""])[0] or type(err).__name__
        key = f"{_FAILED}/{self.rank}"
        try:
            if store.check([key]):  # the first error of this rank is the one to report
                return
            store.set(key, f"{type(err).__name__}: {text}")
            store.add(_FAILED, 1)
        except Exception:  # pragma: no cover - the store is gone with the job
            pass

    def check_others(self) -> None:
        """Raise :class:`DistributedJobError` if another rank has failed."""
        store = self._store()
        if store is None or store.add(_FAILED, 0) == 0:
            return
        for r in range(self.world_size):
            key = f"{_FAILED}/{r}"
            if r != self.rank and store.check([key]):
                raise DistributedJobError(f"rank {r} failed: {store.get(key).decode()}")

    def add_progress(self, n: int) -> int:
        """Count ``n`` more finished images; returns the job's total so far."""
        store = self._store()
        if store is None:
            self._local += n
            return self._local
        return int(store.add(f"{_PROGRESS}/{self._round}", n))

    def wait_for_all(self, on_tick: Callable[[int], None] | None = None) -> None:
        """Wait until every rank has finished its shard (a store rendezvous that stops
        with the error of a rank that failed, or after ``timeout_s``).

        Args:
            on_tick: called with the job's progress count while waiting (rank 0's bar).
        """
        store = self._store()
        if store is None:
            self._round, self._local = self._round + 1, 0
            return
        done, progress = f"{_DONE}/{self._round}", f"{_PROGRESS}/{self._round}"
        store.add(done, 1)
        deadline = time.monotonic() + self.timeout_s
        while True:
            self.check_others()
            if on_tick is not None:
                on_tick(int(store.add(progress, 0)))
            if int(store.add(done, 0)) >= self.world_size:
                self._round += 1
                return
            if time.monotonic() > deadline:
                raise DistributedJobError(
                    f"rank {self.rank}: other ranks did not finish within {self.timeout_s:.0f}"
                    " s (raise --dist-timeout for uneven shards)"
                )
            time.sleep(0.5)

    def gather(self, obj: Any) -> list[Any] | None:
        """Every rank's ``obj`` on rank 0 (in rank order); ``None`` on the others."""
        if self.world_size == 1:
            return [obj]
        import torch.distributed as dist

        out: list[Any] | None = [None] * self.world_size if self.is_main else None
        with self._collective():
            dist.gather_object(obj, out, dst=0)
        return out

    def broadcast(self, obj: Any) -> Any:
        """Rank 0's ``obj`` on every rank."""
        if self.world_size == 1:
            return obj
        import torch.distributed as dist

        box = [obj]
        with self._collective():
            dist.broadcast_object_list(box, src=0)
        return box[0]

    def barrier(self) -> None:
        """Wait for every rank (with the process group's timeout)."""
        if self.world_size > 1:
            import torch.distributed as dist

            with self._collective():
                dist.barrier()

    @contextlib.contextmanager
    def _collective(self) -> Iterator[None]:
        """A collective that fails because a peer died raises that peer's error."""
        try:
            yield
        except RuntimeError:
            self.check_others()
            raise


class JobProgress:
    """One progress bar on rank 0 for the whole job (nothing on the other ranks)."""

    def __init__(self, job: Job, total: int | None, *, enabled: bool, desc: str) -> None:
        self.job = job
        self.bar = tqdm(total=total, disable=not (enabled and job.is_main), desc=desc, unit="image")
        job._bars.append(self)  # closed when the job ends, also on an error

    def advance(self, n: int) -> None:
        """Count ``n`` images finished by this rank."""
        self.show(self.job.add_progress(n))

    def show(self, count: int) -> None:
        """Show the job's count."""
        if count > self.bar.n:
            self.bar.update(count - self.bar.n)

    def close(self) -> None:
        """Close the bar."""
        self.bar.close()


def prepare_store(store: ShardStore | None, job: Job, *, resume: bool) -> None:
    """Rank 0 checks (``resume``) or resets the stored results; the others wait for it
    and then check the settings too. Every rank learns rank 0's error, if any."""
    if store is None:
        return
    error = None
    if job.is_main:
        try:
            store.prepare(resume=resume)
        except (ValueError, OSError) as err:
            error = str(err)
    error = job.broadcast(error)
    if error is not None:
        raise ValueError(error)
    if not job.is_main:
        store.check()


@expand_options(RunOptions, evaluate_images)
def evaluate_distributed(
    forward_func: Callable[[Tensor], Tensor],
    batches: Iterable[EvalBatch],
    methods: Mapping[str, AttributionFn],
    segmenters: Mapping[str, SegmenterFn | None],
    *,
    job: Job | None = None,
    store: ShardStore | None = None,
    resume: bool = False,
    **options: Unpack[RunOptions],
) -> EvaluationReport | None:
    """:func:`~captum_nas.evaluation.runner.evaluate` with this rank's share of the
    batches, per-batch records stored as they finish, and the report on rank 0.

    Every rank iterates ``batches`` (the data are read or rendered on every rank; a
    rank evaluates batch ``b`` when ``b % world_size == rank``). Rank 0 gathers the
    records and aggregates them: the report equals the single-process report number
    for number. With ``store``, each batch's records are saved atomically when the batch
    is done; with ``resume`` the batches already stored are read back, not redone.

    Args:
        forward_func, batches, methods, segmenters: as for
            :func:`~captum_nas.evaluation.runner.evaluate`.
        job: this process's :class:`Job` (default: one process).
        store: where per-batch records go (``None``: nowhere).
        resume: read back the batches ``store`` already holds (its settings must match).
        **options: ``pool``, ``progress``, ``total`` and the other options of
            :func:`~captum_nas.evaluation.runner.evaluate`
            (:class:`~captum_nas.evaluation.runner.RunOptions`: ``curves``,
            ``ground_truth``, ``target``, ``device``, ...).

    Returns:
        The :class:`~captum_nas.evaluation.runner.EvaluationReport` on rank 0, ``None``
        on the other ranks.

    Raises:
        DistributedJobError: another rank failed (its error is in the message) or a
            wait ran past the job's deadline.
    """
    job = job or Job()
    run = batch_evaluator(forward_func, methods, segmenters, options)
    if resume and store is None:
        raise ValueError("`resume=True` needs a `store` to resume from")
    try:
        prepare_store(store, job, resume=resume)
        progress, total = options.get("progress", True), options.get("total")
        bar = JobProgress(job, total, enabled=progress, desc="evaluate")
        mine: list[ImageRecord] = []
        try:
            for index, batch in enumerate(batches):
                if not job.owns(index):
                    continue
                job.check_others()
                records = store.load(index) if (resume and store and store.has(index)) else None
                if records is None:
                    records = run(index, batch)
                    if store is not None:
                        store.save(index, records)
                mine += records
                bar.advance(len(records))
            job.wait_for_all(bar.show)
        finally:
            bar.close()
        gathered = job.gather(mine)
    except DistributedJobError:
        raise
    except BaseException as err:
        job.fail(err)
        if job.world_size > 1 and _simple(err):
            raise type(err)(f"rank {job.rank}: {err}") from err
        raise
    if gathered is None:
        return None
    return aggregate(
        [r for part in gathered for r in part], ground_truth=options.get("ground_truth")
    )


def _simple(err: BaseException) -> bool:
    """Whether ``type(err)(message)`` rebuilds the error (one-message exceptions)."""
    return type(err) in (ValueError, TypeError, RuntimeError, FileNotFoundError, OSError)


def gather_in_order(job: Job, items: Sequence[tuple[int, Any]]) -> list[Any] | None:
    """``(index, value)`` pairs of every rank on rank 0, sorted by index; ``None`` elsewhere."""
    parts = job.gather(list(items))
    if parts is None:
        return None
    return [v for _, v in sorted((p for part in parts for p in part), key=lambda p: p[0])]
