"""A Captum ``Attribution`` of the differentiable LRP heatmaps (plain or guided models).

:class:`GuidedLRP` is what ``captum-nas explain --method guided-lrp`` builds: the
relevance of the target class per input pixel and channel, from the tied-weight
decoder of :mod:`captum_nas.guidance.decoder`. It drops into Captum pipelines
(``NoiseTunnel``, ``captum.metrics``) and into NAS pooling
(``SuperpixelAttribution(GuidedLRP(model))``) like Captum's own ``LRP``; unlike it, the
result can keep its autograd graph (``keep_graph=True``) for use inside a loss.
"""

from __future__ import annotations

from typing import Any

import torch
from captum.attr import Attribution
from captum.log import log_usage
from torch import Tensor, nn

from captum_nas._model_state import preserved_model_state
from captum_nas._validation import check_image_batch, check_target, describe
from captum_nas.guidance.decoder import LRPDecoder
from captum_nas.guidance.lrp import DEFAULT_EPSILON


class GuidedLRP(Attribution):
    """Differentiable LRP of a classifier (epsilon rule with detached biases by default).

    Args:
        model: the classifier (a chain of the decoder's supported layers).
        rule: ``"epsilon"`` or ``"alpha-beta"``.
        epsilon: stabiliser of the epsilon rule.
        alpha: alpha of the alpha-beta rule.

    Example:
        >>> from captum_nas.attr.superpixel import SuperpixelAttribution
        >>> lrp = GuidedLRP(model)
        >>> lrp.attribute(images, target=labels).shape      # images' shape
        torch.Size([2, 3, 32, 32])
        >>> pooled = SuperpixelAttribution(GuidedLRP(model)).attribute(images, target=labels)
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        rule: str = "epsilon",
        epsilon: float = DEFAULT_EPSILON,
        alpha: float = 1.0,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be an nn.Module, got {describe(model)}")
        super().__init__(model)
        self.decoder = LRPDecoder(model, rule=rule, epsilon=epsilon, alpha=alpha)

    @log_usage()
    def attribute(
        self,
        inputs: Tensor,
        target: Any = None,
        additional_forward_args: Any = None,
        *,
        keep_graph: bool = False,
    ) -> Tensor:
        """Relevance of ``target`` for every input element.

        Args:
            inputs: (N, C, H, W) batch.
            target: class per image (int, sequence or (N,) tensor); default: the
                predicted class.
            additional_forward_args: not supported (must be None).
            keep_graph: keep the autograd graph (a loss on the result trains the model).

        Returns:
            (N, C, H, W) relevance on the inputs' device and dtype, contiguous.
        """
        check_image_batch(inputs, "inputs")
        if additional_forward_args is not None:
            raise ValueError("`additional_forward_args` is not supported by GuidedLRP")
        if not isinstance(keep_graph, bool):
            raise TypeError(f"`keep_graph` must be a bool, got {keep_graph!r}")
        model = self.decoder.classifier
        with (
            preserved_model_state(model),
            torch.set_grad_enabled(keep_graph or torch.is_grad_enabled()),
        ):
            if target is None:
                with torch.no_grad():
                    target = model(inputs).argmax(1)
            t = check_target(target, inputs.shape[0], device=inputs.device)
            out = self.decoder(inputs, target=t)
        relevance = out.relevance[:, 0]
        if not keep_graph:
            relevance = relevance.detach()
        return relevance.contiguous()

    def has_convergence_delta(self) -> bool:
        return False


def build(model: nn.Module, ctx: Any) -> GuidedLRP:
    """Registry builder: ``GuidedLRP(model, **options)`` with options from ``ctx.options``
    (``rule``, ``epsilon``, ``alpha``)."""
    options = dict(getattr(ctx, "options", {}) or {})
    allowed = {"rule", "epsilon", "alpha"}
    kwargs = {k: options[k] for k in allowed if k in options}
    if "epsilon" in kwargs:
        kwargs["epsilon"] = float(kwargs["epsilon"])
    if "alpha" in kwargs:
        kwargs["alpha"] = float(kwargs["alpha"])
    return GuidedLRP(model, **kwargs)
