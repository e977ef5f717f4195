"""Doctest namespace for ``pytest --doctest-modules captum_nas`` (run by ``make test``).

Docstring examples may use ``torch``, ``np``, a small CNN ``model`` (the tests'
``TinyCNN``: ``stem``, ``layer1``, ``layer2``, ``fc``; 5 classes; eval mode, seeded
weights), a batch of ``images`` (2, 3, 32, 32) and their ``labels`` without defining
them. Examples listed in ``_NOT_RUNNABLE_YET`` are skipped with the reason given.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from tests.conftest import TinyCNN

#: doctest name -> why it is skipped (examples that need names they do not define)
_NOT_RUNNABLE_YET: dict[str, str] = {
    "captum_nas.attr.methods": "uses undefined names",
    "captum_nas.attr.superpixel.SuperpixelAttribution": "uses undefined names",
    "captum_nas.evaluation.data.FolderData": "needs a folder of images",
    "captum_nas.attr.methods.NASGradCam": "needs a vision transformer `vit`",
    "captum_nas.attr.result": "uses undefined names",
    "captum_nas.attr.result.AttributionResult.top_k": "uses undefined names",
}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if isinstance(item, pytest.DoctestItem) and item.name in _NOT_RUNNABLE_YET:
            item.add_marker(pytest.mark.skip(reason=_NOT_RUNNABLE_YET[item.name]))


@pytest.fixture(autouse=True)
def _doctest_names(request: pytest.FixtureRequest) -> None:
    if not isinstance(request.node, pytest.DoctestItem):
        return
    namespace: dict[str, Any] = request.getfixturevalue("doctest_namespace")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(0)
        model = TinyCNN().eval()
    gen = torch.Generator().manual_seed(0)
    namespace.update(
        torch=torch,
        np=np,
        model=model,
        images=torch.rand(2, 3, 32, 32, generator=gen),
        labels=torch.tensor([0, 3]),
    )
    torch.manual_seed(0)
