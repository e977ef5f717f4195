"""The fitted selectors shipped for the reference flower classifiers, and how they are made.

Each shipped selector (``captum_nas/data/selector_reference_<variant>.pt``) comes from::

    selector = fit_reference_selector("single")   # or "double"
    selector.save(shipped_selector_path("reference"))   # "reference-double"

i.e. ``python -m captum_nas.interpretation.reference --variant single``; the call and
the fit's statistics are stored in ``selector.metadata``.
"""

from __future__ import annotations

import argparse
from collections.abc import Iterator, Sequence

import torch
from torch import Tensor

from captum_nas._validation import check_choice, check_positive_int
from captum_nas.datasets import VARIANTS, render_flowers
from captum_nas.interpretation.attribution import shipped_selector_path
from captum_nas.interpretation.selector import RelevantFeatureSelector

#: CLI model name of each flowers variant
MODEL_NAMES = {"single": "reference", "double": "reference-double"}


def _batches(
    variant: str, n: int, batch_size: int, seed: int, image_size: int
) -> Iterator[tuple[Tensor, Tensor]]:
    for start in range(0, n, batch_size):
        idx = torch.arange(start, min(start + batch_size, n))
        b = render_flowers(idx, variant=variant, split="train", image_size=image_size, seed=seed)
        yield b.images, b.labels


def fit_reference_selector(
    variant: str = "single",
    *,
    n_train: int = 1200,
    alpha: float = 0.01,
    max_per_class: int | None = None,
    batch_size: int = 100,
    seed: int = 0,
    image_size: int = 128,
    progress: bool = True,
) -> RelevantFeatureSelector:
    """Fit a selector on the shipped reference model of ``variant`` (its stage outputs).

    Args:
        variant: ``"single"`` or ``"double"``.
        n_train: training images (samples ``0..n_train-1`` of the train split).
        alpha: lasso penalty.
        max_per_class: feature budget per class.
        batch_size: images per forward.
        seed: data seed (the one the model was trained with).
        image_size: image side.
        progress: tqdm bar.

    Returns:
        The fitted selector; ``metadata`` records the call and the fit.
    """
    from captum_nas.models import reference_model

    check_choice(variant, "variant", VARIANTS)
    n_train = check_positive_int(n_train, "n_train", minimum=2)
    model = reference_model(variant)
    selector = RelevantFeatureSelector(alpha=alpha, max_per_class=max_per_class)
    selector.fit_model(
        model,
        _batches(variant, n_train, batch_size, seed, image_size),
        progress=progress,
        total=-(-n_train // batch_size),
    )
    selector.metadata.update(
        {
            "model": MODEL_NAMES[variant],
            "call": (
                f"fit_reference_selector({variant!r}, n_train={n_train}, alpha={alpha}, "
                f"max_per_class={max_per_class}, batch_size={batch_size}, seed={seed}, "
                f"image_size={image_size})"
            ),
            "relevant_per_class": [len(selector.relevant(c)) for c in range(selector.n_classes)],
            "torch_version": str(torch.__version__),
        }
    )
    return selector


def main(argv: Sequence[str] | None = None) -> int:
    """Refit and overwrite the shipped selector of a variant."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variant", choices=VARIANTS, default="single")
    parser.add_argument("--n-train", type=int, default=1200)
    parser.add_argument("--alpha", type=float, default=0.01)
    parser.add_argument("--max-per-class", type=int, default=None)
    args = parser.parse_args(argv)
    selector = fit_reference_selector(
        args.variant, n_train=args.n_train, alpha=args.alpha, max_per_class=args.max_per_class
    )
    path = selector.save(shipped_selector_path(MODEL_NAMES[args.variant]))
    print(f"saved {path}: {selector.metadata}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
