"""Superpixel attributions against their peers, timed side by side on CPU.

Rows (``ratio`` = ours / peer; medians of ``repeats`` interleaved calls after a warm-up):

* ``NASIntegratedGradients`` (n_steps=50, NAS segments computed inside) vs Captum's
  ``IntegratedGradients`` on the same batch: the cost of the superpixel step.
* ``NASGradCam`` (NAS segments inside) vs ``pytorch_grad_cam.GradCAM`` on the same
  model, layer (``layer4``) and batch.
* ``NASSaliency`` (gradient-weighted superpixels, Hartley et al.) vs ``NASLime`` with
  1000 samples on the same precomputed segments; the note gives their mean segment
  agreement (Spearman, Kendall tau-b, top-5 overlap).
* ``segment_pool`` vs a per-image, per-segment Python loop of boolean-mask means (the
  way Quantus's IROF scores segments).

Ours are built through :mod:`captum_nas.attr.registry` (``superpixel_attribution`` of
the registered method over the registered NAS segmenter), as every entry point does.

Model: torchvision ``resnet18`` architecture with random weights (no download), eval.
Run: ``.venv/bin/python benchmarks/bench_attr.py [--repeats N] [--quick]``.
"""

from __future__ import annotations

import warnings
from typing import Any

import torch
from _harness import compare, comparison_markdown, make_row, run_module
from torch import Tensor, nn

from captum_nas.attr.registry import (
    BuildContext,
    build_segmenter,
    get_method,
    method_kwargs,
    superpixel_attribution,
)
from captum_nas.metrics.agreement import segment_agreement
from captum_nas.pooling import segment_pool


def _resnet18() -> nn.Module:
    from torchvision.models import resnet18

    torch.manual_seed(0)
    return resnet18(weights=None).eval()


def _batch(n: int, size: int) -> Tensor:
    torch.manual_seed(1)
    return torch.randn(n, 3, size, size)


def _loop_pool(attr: Tensor, seg: Tensor) -> Tensor:
    out = torch.empty_like(attr)
    for i in range(attr.shape[0]):
        for k in seg[i].unique().tolist():
            mask = (seg[i, 0] == k)[None].expand_as(attr[i])
            out[i][mask] = attr[i][mask].mean()  # IROF-style: one segment at a time
    return out


def run(
    repeats: int = 3, *, quick: bool = False, device: str | torch.device = "cpu"
) -> list[dict[str, Any]]:
    """Rows ``{"name", "ours_s", "peer_s", "ratio", "target", "note", ...}``.

    Both sides of every row compute on ``device``.
    """
    dev = torch.device(device)
    n, size = (2, 112) if quick else (8, 224)
    lime_n, lime_samples = (1, 200) if quick else (1, 1000)
    model = _resnet18().to(dev)
    x = _batch(n, size).to(dev)
    target = torch.arange(n, device=dev) % 1000
    rows: list[dict[str, Any]] = []

    ctx = BuildContext(model_name="resnet18", options={"n_steps": 50})

    def nas() -> Any:
        return build_segmenter("nas", model, 32)

    nas_ig = superpixel_attribution("ig", model, ctx, nas())
    from captum.attr import IntegratedGradients

    ig = IntegratedGradients(model)
    ours, peer = compare(
        lambda: nas_ig.attribute(
            x, target=target, internal_batch_size=50, **method_kwargs(get_method("ig"), x, ctx)
        ),
        lambda: ig.attribute(x, target=target, n_steps=50, internal_batch_size=50),
        repeats=repeats,
        memory=False,
        device=dev,
    )
    rows.append(
        make_row(
            f"NASIntegratedGradients vs Captum IG ({n}x{size}px, n_steps=50)",
            ours,
            peer,
            target="<= 1.10",
            note="NAS segmentation (K=32) computed inside",
        )
    )

    from pytorch_grad_cam import GradCAM
    from pytorch_grad_cam.utils.model_targets import ClassifierOutputTarget

    cam_ctx = BuildContext(model_name="resnet18", layer=model.layer4)
    nas_cam = superpixel_attribution("gradcam", model, cam_ctx, nas())
    cam_kwargs = method_kwargs(get_method("gradcam"), x, cam_ctx)
    cam = GradCAM(model=model, target_layers=[model.layer4])
    cam_targets = [ClassifierOutputTarget(int(t)) for t in target]
    ours, peer = compare(
        lambda: nas_cam.attribute(x, target=target, **cam_kwargs),
        lambda: cam(input_tensor=x, targets=cam_targets),
        repeats=repeats,
        memory=False,
        device=dev,
    )
    rows.append(
        make_row(
            f"NASGradCam vs pytorch-grad-cam GradCAM ({n}x{size}px, layer4)",
            ours,
            peer,
            target="<= 1.5",
            note="NAS segmentation (K=32) computed inside",
        )
    )

    xl, tl = x[:lime_n], target[:lime_n]
    seg = nas()(xl)
    saliency = superpixel_attribution("saliency", model, ctx, nas())
    lime = superpixel_attribution("lime", model, ctx, nas())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.manual_seed(2)
        ours, peer = compare(
            lambda: saliency.attribute(xl, target=tl, segments=seg),
            lambda: lime.attribute(
                xl, target=tl, segments=seg, n_samples=lime_samples, perturbations_per_eval=50
            ),
            repeats=repeats,
            memory=False,
            device=dev,
        )
        agree = segment_agreement(
            saliency.attribute(xl, target=tl, segments=seg),
            lime.attribute(
                xl, target=tl, segments=seg, n_samples=lime_samples, perturbations_per_eval=50
            ),
            seg,
            top_k=5,
        )
    rows.append(
        make_row(
            f"NASSaliency vs NASLime {lime_samples} samples ({lime_n}x{size}px, same segments)",
            ours,
            peer,
            target="<= 0.01",
            note=(
                f"speed-up {peer.median_s / ours.median_s:.0f}x; agreement Spearman "
                f"{agree.spearman.nanmean():.2f}, Kendall {agree.kendall.nanmean():.2f}, "
                f"top-5 overlap {agree.top_k_overlap.nanmean():.2f}"
            ),
        )
    )

    torch.manual_seed(3)
    attr = torch.randn(n, 3, size, size).to(dev)
    seg_all = nas()(x)
    ours, peer = compare(
        lambda: segment_pool(attr, seg_all, channel_reduce="mean"),
        lambda: _loop_pool(attr, seg_all),
        repeats=repeats,
        memory=False,
        device=dev,
    )
    same = torch.allclose(
        segment_pool(attr, seg_all, channel_reduce="mean").map, _loop_pool(attr, seg_all), atol=1e-5
    )
    rows.append(
        make_row(
            f"segment_pool vs per-segment loop ({n}x3x{size}px, K<=32)",
            ours,
            peer,
            target="<= 0.02",
            note=f"speed-up {peer.median_s / ours.median_s:.0f}x; same result: {same}",
        )
    )
    return rows


def _markdown(rows: list[dict[str, Any]]) -> str:
    return comparison_markdown(rows, ratio_format="{:.3f}")


if __name__ == "__main__":
    run_module(__doc__, run, _markdown)
