"""The evaluation loop: methods x segmenters x metrics over a data set.

Each method's pixel map is computed once per batch and pooled over each segmenter's
segments (``None`` keeps the map unpooled), so adding a segmenter costs one
segmentation and one pooling, not another attribution.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

import torch
from torch import Tensor
from tqdm.auto import tqdm

from captum_nas.evaluation.data import EvalBatch
from captum_nas.evaluation.methods import AttributionFn
from captum_nas.metrics import (
    MaxBoxAccResult,
    continuous_iou,
    mask_f1,
    mask_iou,
    max_box_acc_v1_v2,
    pointing_game,
    pxap,
    relevance_gap,
    relevance_mass_accuracy,
    roc_auc,
)
from captum_nas.metrics._common import minmax_normalize

SegmenterFn = Callable[[Tensor], Tensor]

#: Metrics reported per (method, segmenter), with the direction of "better".
METRIC_INFO: dict[str, str] = {
    "maxboxacc_v1": "MaxBoxAcc (largest component, IoU 0.5); higher is better",
    "maxboxacc_v2": "MaxBoxAccV2 (all components, mean over IoU 0.3/0.5/0.7); higher",
    "boxacc_iou30": "best box accuracy at IoU 0.3 (V2 boxes); higher is better",
    "boxacc_iou50": "best box accuracy at IoU 0.5 (V2 boxes); higher is better",
    "boxacc_iou70": "best box accuracy at IoU 0.7 (V2 boxes); higher is better",
    "pxap": "pixel average precision against the object mask; higher is better",
    "part_iou": "IoU of the thresholded map with the class-deciding part (best threshold); higher",
    "part_mass": "fraction of the map's mass inside the class-deciding part; higher",
    "pointing": "pointing game hit rate (object mask, 15 px tolerance); higher",
    "auc_morf": "area under the MoRF curve (patches removed); lower is better",
    "auc_lerf": "area under the LeRF curve (patches removed); higher is better",
    "gap": "LeRF AUC - MoRF AUC; higher is better",
    "gt_iou_best": "IoU of the thresholded map (min-max normalised) with the --ground-truth "
    "mask at the best threshold of the data set; higher is better",
    "gt_iou_mean": "mean IoU over the threshold grid 0..0.99 (area under the "
    "IoU-over-thresholds curve); higher is better",
    "gt_f1_best": "F1 (Dice) with the ground-truth mask at the best threshold; higher",
    "gt_continuous_iou": "soft IoU sum(min(m, g)) / sum(max(m, g)) of the min-max "
    "normalised map; higher is better",
    "gt_roc_auc": "per-image ROC-AUC of the map's pixels against the mask; higher, 0.5 chance",
    "gt_coverage_object": "mean normalised map value on the mask (share of the object "
    "covered); higher is better",
    "gt_coverage_background": "mean normalised map value off the mask (share of the "
    "background covered); lower is better",
}

#: threshold grid of the mask IoU / F1 curves (maps min-max normalised per image)
IOU_THRESHOLDS = torch.linspace(0, 0.99, 100)


@dataclass
class EvaluationReport:
    """Results of :func:`evaluate`.

    Attributes:
        rows: one dict per (method, segmenter) with the metrics of
            :data:`METRIC_INFO` (absent when the data lack the ground truth).
        curves: mean MoRF and LeRF curves per (method, segmenter) (fraction removed,
            mean score), when relevance curves were computed.
        accuracy: top-1 accuracy of the model on the evaluated images (labelled ones).
        n_images: number of images.
    """

    rows: list[dict[str, float | str]] = field(default_factory=list)
    curves: dict[tuple[str, str], dict[str, list[float]]] = field(default_factory=dict)
    iou_curves: dict[tuple[str, str], dict[str, list[float]]] = field(default_factory=dict)
    ground_truth: str | None = None
    accuracy: float = float("nan")
    n_images: int = 0


class _Accumulator:
    """Per-(method, segmenter) running sums and per-image results."""

    def __init__(self) -> None:
        self.box_v1: list[MaxBoxAccResult] = []
        self.box_v2: list[MaxBoxAccResult] = []
        self.maps: list[Tensor] = []
        self.object_masks: list[Tensor] = []
        self.part_ious: list[Tensor] = []
        self.part_mass: list[Tensor] = []
        self.pointing: list[Tensor] = []
        self.morf: list[Tensor] = []
        self.lerf: list[Tensor] = []
        self.fraction: Tensor | None = None
        self.gt: dict[str, list[Tensor]] = {
            k: [] for k in ("iou", "f1", "ciou", "auc", "cov_obj", "cov_bg")
        }


def _mask_metrics(maps: Tensor, masks: Tensor, thresholds: Tensor) -> dict[str, Tensor]:
    """The ground-truth mask metric group of one batch (per image, on the CPU)."""
    m = minmax_normalize(maps.sum(1, keepdim=True).float())
    g = masks.reshape(m.shape).to(m.dtype)
    n = m.shape[0]
    flat_m, flat_g = m.reshape(n, -1), g.reshape(n, -1)
    n_obj = flat_g.sum(1)
    n_bg = flat_g.shape[1] - n_obj
    auc = (
        roc_auc(m, masks)
        if bool((n_bg > 0).all())
        else torch.full((n,), float("nan"), dtype=m.dtype, device=m.device)
    )
    out = {
        "iou": mask_iou(m, masks, thresholds=thresholds),
        "f1": mask_f1(m, masks, thresholds=thresholds),
        "ciou": continuous_iou(m, masks),
        "auc": auc,
        "cov_obj": (flat_m * flat_g).sum(1) / n_obj.clamp_min(1),
        "cov_bg": (flat_m * (1 - flat_g)).sum(1) / n_bg.clamp_min(1),
    }
    return {k: v.detach().cpu() for k, v in out.items()}


def _part_iou_curve(maps: Tensor, masks: Tensor, thresholds: Tensor) -> Tensor:
    return mask_iou(maps, masks, thresholds=thresholds, normalize=True)


def evaluate(
    forward_func: Callable[[Tensor], Tensor],
    batches: Iterable[EvalBatch],
    methods: Mapping[str, AttributionFn],
    segmenters: Mapping[str, SegmenterFn | None],
    *,
    pool: Callable[[Tensor, Tensor], Tensor],
    curves: bool = True,
    patch_size: int | None = None,
    curve_steps: int = 16,
    curve_baseline: str = "mean",
    forward_batch_size: int = 128,
    target: str = "label",
    ground_truth: str | None = None,
    progress: bool = True,
    total: int | None = None,
    device: torch.device | str | None = None,
) -> EvaluationReport:
    """Evaluate every method pooled over every segmenter on ``batches``.

    Args:
        forward_func: the model (logits).
        batches: :class:`~captum_nas.evaluation.data.EvalBatch` es.
        methods: name -> ``fn(inputs, target) -> (N, 1, H, W)`` pixel maps.
        segmenters: name -> segmenter, or ``None`` for the unpooled map.
        pool: ``pool(maps, segments) -> pooled maps`` (e.g. mean pooling).
        curves: compute MoRF/LeRF relevance curves (costly: 2 x (steps + 1) forwards
            per image, method and segmenter).
        patch_size: removal unit of the curves (default: image side / 8), the same for
            every map so that only the ranking differs.
        curve_steps: number of removal steps of the curves.
        curve_baseline: what removed patches become (``"mean"``, ``"zeros"``, ``"blur"``).
        forward_batch_size: model batch size inside the relevance curves.
        target: ``"label"`` (ground-truth class, the WSOL convention; predicted class
            where unlabelled) or ``"predicted"``.
        ground_truth: ``"object"`` or ``"part"``: add the ``gt_*`` mask metric group
            (best-threshold IoU and F1, mean IoU over thresholds and its curve,
            continuous IoU, ROC-AUC, object and background coverage) against that mask
            of every batch (batches without it are an error); ``None`` (default): none.
        progress: show a tqdm bar that ticks per image.
        total: number of images, for the progress bar.
        device: move every batch there before use (the model must already be there);
            ``None`` keeps the batches where they are.

    Returns:
        An :class:`EvaluationReport`.
    """
    if target not in ("label", "predicted"):
        raise ValueError(f"`target` must be 'label' or 'predicted', got {target!r}")
    if ground_truth not in (None, "object", "part"):
        raise ValueError(f"`ground_truth` must be None, 'object' or 'part', got {ground_truth!r}")
    if not methods:
        raise ValueError("`methods` is empty")
    if not segmenters:
        raise ValueError("`segmenters` is empty")
    acc: dict[tuple[str, str], _Accumulator] = {
        (m, s): _Accumulator() for m in methods for s in segmenters
    }
    iou_grid = IOU_THRESHOLDS
    correct = labelled = n_images = 0
    bar = tqdm(total=total, disable=not progress, desc="evaluate", unit="image")
    try:
        for batch in batches:
            if device is not None:
                batch = batch.to(device)
            x = batch.images
            n_images += len(batch)
            with torch.no_grad():
                logits = forward_func(x)
            pred = logits.argmax(1)
            if batch.labels.numel() and int(batch.labels.max()) >= logits.shape[1]:
                bad = int(batch.labels.argmax())
                name = batch.names[bad] if bad < len(batch.names) else f"#{bad}"
                raise ValueError(
                    f"label {int(batch.labels.max())} of image {name} is out of range for a "
                    f"model with {logits.shape[1]} classes; pair the data with its model"
                )
            gt_masks = None
            if ground_truth is not None:
                gt_masks = batch.object_masks if ground_truth == "object" else batch.part_masks
                if gt_masks is None:
                    raise ValueError(
                        f"`ground_truth={ground_truth!r}`: the data have no {ground_truth} masks"
                        + (
                            " (a folder gives object masks from masks/)"
                            if ground_truth == "part"
                            else ""
                        )
                    )
            known = batch.labels >= 0
            correct += int((pred[known] == batch.labels[known]).sum())
            labelled += int(known.sum())
            tgt = torch.where(known, batch.labels, pred) if target == "label" else pred
            segments = {name: (None if seg is None else seg(x)) for name, seg in segmenters.items()}
            side = patch_size or max(1, min(x.shape[-2:]) // 8)
            for m_name, fn in methods.items():
                pixel = fn(x, tgt)
                for s_name, seg in segments.items():
                    a = acc[(m_name, s_name)]
                    maps = pixel if seg is None else pool(pixel, seg)
                    v1, v2 = max_box_acc_v1_v2(maps, batch.boxes)
                    a.box_v1.append(v1)
                    a.box_v2.append(v2)
                    if batch.object_masks is not None:
                        a.maps.append(maps.cpu())
                        a.object_masks.append(batch.object_masks.cpu())
                        a.pointing.append(pointing_game(maps, batch.object_masks, tolerance=15))
                    if gt_masks is not None:
                        for key, value in _mask_metrics(maps, gt_masks, iou_grid).items():
                            a.gt[key].append(value)
                    if batch.part_masks is not None:
                        a.part_ious.append(_part_iou_curve(maps, batch.part_masks, iou_grid))
                        a.part_mass.append(relevance_mass_accuracy(maps, batch.part_masks))
                    if curves:
                        gap = relevance_gap(
                            forward_func,
                            x,
                            maps,
                            tgt,
                            patch_size=side,
                            n_steps=curve_steps,
                            baseline=curve_baseline,
                            batch_size=forward_batch_size,
                        )
                        a.morf.append(gap.morf.scores.cpu())
                        a.lerf.append(gap.lerf.scores.cpu())
                        a.fraction = gap.morf.fraction_removed[0].cpu()
            bar.update(len(batch))
    finally:
        bar.close()
    report = EvaluationReport(
        accuracy=correct / labelled if labelled else float("nan"),
        n_images=n_images,
        ground_truth=ground_truth,
    )
    for (m_name, s_name), a in acc.items():
        row: dict[str, float | str] = {"method": m_name, "segmenter": s_name}
        v1 = MaxBoxAccResult.concat(a.box_v1)
        v2 = MaxBoxAccResult.concat(a.box_v2)
        row["maxboxacc_v1"] = float(v1.score)
        row["maxboxacc_v2"] = float(v2.score)
        for thr, value in zip(v2.iou_thresholds.tolist(), v2.max_box_acc.tolist()):
            row[f"boxacc_iou{round(thr * 100)}"] = float(value)
        if a.maps:
            row["pxap"] = float(pxap(torch.cat(a.maps), torch.cat(a.object_masks)).score)
            row["pointing"] = float(torch.cat(a.pointing).float().mean())
        if a.part_ious:
            curve = torch.cat(a.part_ious).mean(0)
            row["part_iou"] = float(curve.max())
            row["part_mass"] = float(torch.cat(a.part_mass).mean())
        if a.gt["iou"]:
            iou = torch.cat(a.gt["iou"]).mean(0)
            row["gt_iou_best"] = float(iou.max())
            row["gt_iou_mean"] = float(iou.mean())
            row["gt_f1_best"] = float(torch.cat(a.gt["f1"]).mean(0).max())
            row["gt_continuous_iou"] = float(torch.cat(a.gt["ciou"]).mean())
            row["gt_roc_auc"] = float(torch.cat(a.gt["auc"]).nanmean())
            row["gt_coverage_object"] = float(torch.cat(a.gt["cov_obj"]).mean())
            row["gt_coverage_background"] = float(torch.cat(a.gt["cov_bg"]).mean())
            report.iou_curves[(m_name, s_name)] = {
                "thresholds": iou_grid.tolist(),
                "iou": iou.tolist(),
            }
        if a.morf and a.fraction is not None:
            morf, lerf = torch.cat(a.morf), torch.cat(a.lerf)
            frac = a.fraction
            auc_morf = float(torch.trapezoid(morf.mean(0), frac))
            auc_lerf = float(torch.trapezoid(lerf.mean(0), frac))
            row.update(auc_morf=auc_morf, auc_lerf=auc_lerf, gap=auc_lerf - auc_morf)
            report.curves[(m_name, s_name)] = {
                "fraction": frac.tolist(),
                "morf": morf.mean(0).tolist(),
                "lerf": lerf.mean(0).tolist(),
            }
        report.rows.append(row)
    return report
