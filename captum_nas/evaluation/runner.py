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
    mask_iou,
    max_box_acc_v1_v2,
    pointing_game,
    pxap,
    relevance_gap,
    relevance_mass_accuracy,
)

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
}


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
        progress: show a tqdm bar over batches.
        total: number of batches, for the progress bar.
        device: move every batch there before use (the model must already be there);
            ``None`` keeps the batches where they are.

    Returns:
        An :class:`EvaluationReport`.
    """
    if target not in ("label", "predicted"):
        raise ValueError(f"`target` must be 'label' or 'predicted', got {target!r}")
    if not methods:
        raise ValueError("`methods` is empty")
    if not segmenters:
        raise ValueError("`segmenters` is empty")
    acc: dict[tuple[str, str], _Accumulator] = {
        (m, s): _Accumulator() for m in methods for s in segmenters
    }
    iou_grid = torch.linspace(0, 0.99, 100)
    correct = labelled = n_images = 0
    for batch in tqdm(batches, total=total, disable=not progress, desc="evaluate"):
        if device is not None:
            batch = batch.to(device)
        x = batch.images
        n_images += len(batch)
        with torch.no_grad():
            pred = forward_func(x).argmax(1)
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
    report = EvaluationReport(
        accuracy=correct / labelled if labelled else float("nan"), n_images=n_images
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
