"""The trained Explainer (Stalder et al., NeurIPS 2022): one forward pass per explanation.

A second network, the Explainer, is trained against a frozen classifier to output one
mask per class; at inference the mask of the target class is the explanation.

* :mod:`~captum_nas.explainer.losses`: each loss term as a function, the paper's weights.
* :mod:`~captum_nas.explainer.network`: :class:`ExplainerNet`, a small encoder-decoder.
* :mod:`~captum_nas.explainer.training`: :func:`fit_explainer` (shared training loop:
  progress, validation, early stopping, checkpoints, resume), :func:`save_explainer`.
* :mod:`~captum_nas.explainer.attribution`: :class:`ExplainerAttribution`, a Captum
  attribution; :func:`load_explainer` and the shipped Explainer of the flowers model.
"""

from captum_nas.explainer.attribution import (
    ExplainerAttribution,
    explainer_checkpoint_info,
    load_explainer,
    shipped_explainer,
    shipped_explainer_path,
)
from captum_nas.explainer.losses import (
    DEFAULT_WEIGHTS,
    ExplainerLoss,
    area_loss,
    classification_loss,
    entropy_loss,
    explainer_loss,
    extract_masks,
    mean_mask_loss,
    total_variation,
)
from captum_nas.explainer.network import ExplainerNet, mask_logits
from captum_nas.explainer.training import FlowersBatches, fit_explainer, save_explainer

__all__ = [
    "DEFAULT_WEIGHTS",
    "ExplainerAttribution",
    "ExplainerLoss",
    "ExplainerNet",
    "FlowersBatches",
    "area_loss",
    "classification_loss",
    "entropy_loss",
    "explainer_checkpoint_info",
    "explainer_loss",
    "extract_masks",
    "fit_explainer",
    "load_explainer",
    "mask_logits",
    "mean_mask_loss",
    "save_explainer",
    "shipped_explainer",
    "shipped_explainer_path",
    "total_variation",
]
