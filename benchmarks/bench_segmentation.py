"""NAS segmentation against scikit-image SLIC on the same 16 photos, K = 32.

Work: 16 real photos (scikit-image sample images resized to 224x224, cycled), 32
segments requested on both sides. NAS: ``NASSegmenter(model, n_segments=32)`` with its
defaults, one batched call, the model's forward pass included. SLIC: a plain Python
loop of ``skimage.segmentation.slic(img, n_segments=32, start_label=0)`` over the 16
HxWx3 float images, as users write it (its defaults: compactness 10, sigma 0). The
ratio is NAS time / SLIC time (lower is better); target <= 1.0, aim 0.5.

Rows:
* EfficientNet-Lite0, pretrained (``captum_nas.models.pretrained.efficientnet_lite0``).
* ResNet-50 architecture (torchvision), random weights, eval mode: a heavier forward.
* XRAI (PAIR ``saliency`` package, core API, IG inside) vs ``NASIntegratedGradients``
  on the first 4 photos, same model and step count: region attribution end to end.

Run: ``.venv/bin/python benchmarks/bench_segmentation.py [--repeats N]``.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import torch
from _harness import compare, make_row, module_args
from torch import nn

from captum_nas.attr.registry import build_segmenter
from captum_nas.images import SAMPLE_IMAGES, sample_image
from captum_nas.models.pretrained import EFFICIENTNET_LITE_NORMALIZER, efficientnet_lite0

N_IMAGES = 16
SIZE = 224
K = 32
XRAI_IMAGES = 4
XRAI_STEPS = 16


def photos(n: int = N_IMAGES, size: int = SIZE) -> torch.Tensor:
    """``n`` scikit-image sample photos in [0, 1], (n, 3, size, size), names cycled."""
    names = [SAMPLE_IMAGES[i % len(SAMPLE_IMAGES)] for i in range(n)]
    return torch.stack([sample_image(name, size) for name in names])


def _slic_loop(images: list[np.ndarray]) -> list[np.ndarray]:
    from skimage.segmentation import slic

    return [slic(img, n_segments=K, start_label=0) for img in images]


def _segments_row(
    name: str, model: nn.Module, images: torch.Tensor, repeats: int, device: torch.device
) -> dict:
    x = EFFICIENTNET_LITE_NORMALIZER(images).to(device)
    model = model.to(device)
    nas = build_segmenter("nas", model, K)
    arrays = [np.ascontiguousarray(img.permute(1, 2, 0).numpy()) for img in images]
    ours, peer = compare(lambda: nas(x), lambda: _slic_loop(arrays), repeats=repeats, device=device)
    print(f"  {name}: NAS {ours.median_s:.3f} s, SLIC {peer.median_s:.3f} s", file=sys.stderr)
    seg = nas(x)
    nas_k = float(np.mean([int(s.max()) + 1 for s in seg]))
    slic_k = float(np.mean([int(s.max()) + 1 for s in _slic_loop(arrays)]))
    return make_row(
        f"NAS {N_IMAGES}x{SIZE}px K={K}, {name} (vs SLIC loop)",
        ours,
        peer,
        target="<= 1.0",
        note=(
            f"forward included; mean segments NAS {nas_k:.1f}, SLIC {slic_k:.1f}; "
            f"NAS on {device}, SLIC on CPU; {torch.get_num_threads()} torch threads"
        ),
    )


def _resnet50() -> nn.Module:
    from torchvision.models import resnet50

    torch.manual_seed(0)
    return resnet50(weights=None).eval()


def _xrai_row(
    model: nn.Module, images: torch.Tensor, repeats: int, device: torch.device
) -> dict[str, Any]:
    del repeats  # one timed round, see below
    name = f"XRAI (PAIR saliency, IG {XRAI_STEPS} steps) {XRAI_IMAGES}x{SIZE}px"
    try:
        import saliency.core as saliency
    except ImportError:
        return make_row(name, None, None, note="skipped: `saliency` not installed")
    from captum_nas.attr.registry import BuildContext, get_method, method_kwargs
    from captum_nas.attr.registry import superpixel_attribution as wrap

    imgs = images[:XRAI_IMAGES]
    model = model.to(device)
    x = EFFICIENTNET_LITE_NORMALIZER(imgs).to(device)
    with torch.no_grad():
        target = model(x).argmax(1)
    ctx = BuildContext(model_name="efficientnet-lite0", options={"n_steps": XRAI_STEPS})
    explainer = wrap("ig", model, ctx, build_segmenter("nas", model, K))

    def ours() -> Any:
        return explainer.attribute(x, target=target, **method_kwargs(get_method("ig"), x, ctx))

    def call_model(batch: np.ndarray, call_model_args: dict, expected_keys: list) -> dict:
        # saliency passes HWC batches in the image's own scale; normalise and take grads
        t = torch.from_numpy(np.ascontiguousarray(batch)).permute(0, 3, 1, 2).float()
        t = EFFICIENTNET_LITE_NORMALIZER(t.to(device)).requires_grad_(True)
        out = model(t)[:, call_model_args["target"]].sum()
        (grad,) = torch.autograd.grad(out, t)
        return {saliency.INPUT_OUTPUT_GRADIENTS: grad.permute(0, 2, 3, 1).cpu().numpy()}

    xrai = saliency.XRAI()
    arrays = [img.permute(1, 2, 0).numpy().astype(np.float64) for img in imgs]

    def peer() -> list[np.ndarray]:
        out = []
        for arr, t in zip(arrays, target.tolist()):
            params = saliency.XRAIParameters(steps=XRAI_STEPS)
            out.append(
                xrai.GetMask(
                    arr,
                    call_model,
                    call_model_args={"target": t},
                    extra_parameters=params,
                    batch_size=XRAI_STEPS,
                )
            )
        return out

    # XRAI's full algorithm takes minutes per round on a small CPU: one timed round
    # each, after warming up our side only (layer probing); XRAI has no first-call cost
    ours()
    ours_t, peer_t = compare(ours, peer, repeats=1, warmup=0, memory=False, device=device)
    return make_row(
        name + " (vs NASIntegratedGradients)",
        ours_t,
        peer_t,
        target="<= 1.0",
        note=(
            "EfficientNet-Lite0; XRAI: Felzenszwalb at 6 scales (CPU) + IG with black and "
            f"white baselines, per image; ours: NAS K={K} + IG, batched; model on {device}"
        ),
    )


def run(
    repeats: int = 3, *, quick: bool = False, device: str | torch.device = "cpu"
) -> list[dict[str, Any]]:
    """NAS vs SLIC rows (and the XRAI row); median of ``repeats`` after a warm-up.

    ``device`` is where NAS (model, k-means) computes; SLIC always runs on the CPU.
    """
    dev = torch.device(device)
    images = photos()
    lite0 = efficientnet_lite0()
    rows = [_segments_row("EfficientNet-Lite0 (pretrained)", lite0, images, repeats, dev)]
    if not quick:
        rows.append(_segments_row("ResNet-50 (random weights)", _resnet50(), images, repeats, dev))
    rows.append(_xrai_row(lite0, images, repeats, dev))
    return rows


if __name__ == "__main__":
    args = module_args(__doc__)
    for row in run(args.repeats, quick=args.quick, device=args.device):
        print(row)
