"""Differentiable LRP heatmaps and explanation-guided training (Yu et al., 2024).

* :class:`LRPDecoder` / :func:`lrp_heatmaps`: a classifier's LRP backward pass as a
  tied-weight decoder, so class heatmaps are differentiable (decoder.py, rules in lrp.py).
* :func:`heatmap_segmentation_loss`, :func:`guided_loss`: pixel cross-entropy on the
  heatmaps (background included, ignore label) plus classification (losses.py).
* :class:`MixedBatchSampler`: batches mixing pixel-labelled and image-label-only images.
* :func:`guided_step`: one training step, with a memory-saving path (training.py).
* :class:`GuidedLRP`: a Captum ``Attribution`` of the differentiable heatmaps.
"""

from captum_nas.guidance.decoder import SUPPORTED_LAYERS, LRPDecoder, LRPOutput, lrp_heatmaps
from captum_nas.guidance.lrp import LRPRule

__all__ = ["SUPPORTED_LAYERS", "LRPDecoder", "LRPOutput", "LRPRule", "lrp_heatmaps"]
