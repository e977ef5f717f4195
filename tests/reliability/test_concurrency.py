"""Concurrency: NAS and the NAS* classes called from several threads on one model.

Every guarded call holds the model's re-entrant lock (``model_lock``) for its whole
block, so calls on one model run one at a time and each sees the state the user left;
``ActivationCapture`` records only its own thread's forwards. Each thread must get
exactly the result of a single-threaded call, no spurious error, and the model must
come out with its own train/eval modes, ``requires_grad`` flags, hooks, parameters and
buffers.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
import torch
from torch import Tensor, nn

from captum_nas import attr as na
from captum_nas._model_state import ActivationCapture, model_lock, preserved_model_state
from captum_nas.segmentation import NASSegmenter
from tests.conftest import TinyCNN

THREADS = 4
CALLS = 3
H = W = 32


def _odd_model() -> nn.Module:
    """TinyCNN in an unusual state: root in train mode, its BatchNorm in eval mode, two
    frozen parameters and a user hook."""
    torch.manual_seed(0)
    model = TinyCNN().train()
    model.layer1[1].eval()
    model.stem[0].bias.requires_grad_(False)
    model.fc.weight.requires_grad_(False)
    model.layer2.register_forward_hook(lambda *_: None)
    return model


def _snapshot(model: nn.Module) -> dict[str, Any]:
    return {
        "modes": [m.training for m in model.modules()],
        "flags": [p.requires_grad for p in model.parameters()],
        "hooks": [
            (len(m._forward_hooks), len(m._forward_pre_hooks), len(m._backward_hooks))
            for m in model.modules()
        ],
        "attrs": [sorted(vars(m)) for m in model.modules()],
        "state": {k: v.clone() for k, v in model.state_dict().items()},
    }


def _assert_same_state(before: dict[str, Any], after: dict[str, Any]) -> None:
    for key in ("modes", "flags", "hooks", "attrs"):
        assert after[key] == before[key], key
    for name, value in before["state"].items():
        assert torch.equal(after["state"][name], value), name


def _images(i: int) -> Tensor:
    return torch.randn(2, 3, H, W, generator=torch.Generator().manual_seed(100 + i))


def _run_threads(work: Callable[[int, int], Tensor]) -> list[list[Tensor]]:
    """``work(thread, call)`` in THREADS threads x CALLS calls, started together; every
    exception is re-raised here."""
    results: list[list[Tensor]] = [[] for _ in range(THREADS)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(THREADS)

    def body(t: int) -> None:
        try:
            barrier.wait()
            for c in range(CALLS):
                results[t].append(work(t, c))
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)

    threads = [threading.Thread(target=body, args=(t,)) for t in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a thread hangs"
    if errors:
        raise errors[0]
    return results


@pytest.mark.parametrize("connectivity", [False, True])
def test_threads_sharing_one_nas_segmenter_get_single_threaded_segments(
    connectivity: bool,
) -> None:
    model = _odd_model()
    seg = NASSegmenter(model, n_segments=6, connectivity=connectivity)
    before = _snapshot(model)
    # a different image batch for every (thread, call)
    expected = [[seg(_images(t * CALLS + c)) for c in range(CALLS)] for t in range(THREADS)]
    _assert_same_state(before, _snapshot(model))
    results = _run_threads(lambda t, c: seg(_images(t * CALLS + c)))
    for t in range(THREADS):
        for c in range(CALLS):
            assert torch.equal(results[t][c], expected[t][c]), (t, c)
    _assert_same_state(before, _snapshot(model))


def _methods(model: nn.Module) -> list[Any]:
    options = {"n_segments": 6, "nas_options": {"refine": None}}
    return [
        na.NASSaliency(model, **options),
        na.NASIntegratedGradients(model, **options),
        na.NASGradCam(model, model.layer2, **options),
        na.NASDeepLift(model, **options),
    ]


def test_nas_classes_sharing_one_model_in_threads() -> None:
    model = _odd_model()
    before = _snapshot(model)
    # thread t uses its own instance of method t % 4, all on the same model
    per_thread = [_methods(model)[t % 4] for t in range(THREADS)]
    reference = _methods(model)

    def call(method: Any, t: int, c: int) -> Tensor:
        return method.attribute(_images(t * CALLS + c), target=(t + c) % 5)

    expected = [[call(reference[t % 4], t, c) for c in range(CALLS)] for t in range(THREADS)]
    _assert_same_state(before, _snapshot(model))
    results = _run_threads(lambda t, c: call(per_thread[t], t, c))
    for t in range(THREADS):
        for c in range(CALLS):
            assert torch.equal(results[t][c], expected[t][c]), (type(per_thread[t]), c)
    _assert_same_state(before, _snapshot(model))


def test_activation_capture_ignores_other_threads() -> None:
    model = TinyCNN().eval()
    x = torch.randn(1, 3, H, W)
    with ActivationCapture([model.layer1]) as capture:
        other = threading.Thread(target=lambda: model(x * 2))
        other.start()
        other.join()
        with pytest.raises(RuntimeError, match="produced no tensor output"):
            _ = capture.outputs  # the other thread's forward was not recorded
        model(x)
        (recorded,) = capture.outputs
    with torch.no_grad():
        assert torch.equal(recorded, model.layer1(model.stem(x)))


def test_guard_holds_the_model_lock_and_nests_in_one_thread() -> None:
    model = TinyCNN().train()
    entered = threading.Event()
    release = threading.Event()
    seen: list[bool] = []

    def holder() -> None:
        with preserved_model_state(model):
            model.eval()
            entered.set()
            release.wait(10)

    thread = threading.Thread(target=holder)
    thread.start()
    assert entered.wait(10)
    # another thread cannot take the lock while the block runs ...
    assert not model_lock(model).acquire(timeout=0.05)
    release.set()
    thread.join(10)
    # ... and afterwards sees the user's state, not the other block's eval mode
    with preserved_model_state(model), preserved_model_state(model):  # re-entrant
        seen.append(model.training)
    assert seen == [True] and model.training
