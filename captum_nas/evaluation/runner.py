"""The evaluation loop: methods x segmenters x metrics over a data set.

Each method's pixel map is computed once per batch and pooled over each segmenter's
segments (``None`` keeps the map unpooled), so adding a segmenter costs one
segmentation and one pooling, not another attribution.

The loop is two steps: :func:`evaluate_batch` turns one batch into per-image records
(small CPU tensors: box IoUs over the CAM thresholds, PxAP pixel histograms, curves,
per-image scores), and :func:`aggregate` turns records into the
:class:`EvaluationReport`. :func:`evaluate` composes both. Because the records of a
batch do not depend on which other batches were evaluated, records made by several
processes, or stored by an interrupted run, aggregate into exactly the report of one
uninterrupted process (:mod:`captum_nas.evaluation.distributed`).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypedDict

import torch
from torch import Tensor
from tqdm.auto import tqdm

from captum_nas._signature import expand_options, same_parameters
from captum_nas._types import SegmenterFn
from captum_nas.evaluation.data import EvalBatch
from captum_nas.evaluation.methods import AttributionFn
from captum_nas.metrics import (
    MaxBoxAccResult,
    continuous_iou,
    mask_f1,
    mask_iou,
    max_box_acc_v1_v2,
    pointing_game,
    relevance_gap,
    relevance_mass_accuracy,
    roc_auc,
)
from captum_nas.metrics._common import (
    check_thresholds,
    default_cam_thresholds,
    minmax_normalize,
)
from captum_nas.metrics.localization import (
    pxap_from_histograms,
    pxap_histograms,
    pxap_thresholds,
)

if TYPE_CHECKING:
    from typing_extensions import Required, Unpack  # in typing from Python 3.11

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


class EvaluationOptions(TypedDict, total=False):
    """Keyword options of :func:`evaluate_batch` that :func:`evaluate`,
    :func:`evaluate_images` and :func:`~captum_nas.evaluation.distributed.evaluate_distributed`
    pass on (defaults and meaning: :func:`evaluate`)."""

    curves: bool
    patch_size: int | None
    curve_steps: int
    curve_baseline: str
    forward_batch_size: int
    target: str
    ground_truth: str | None
    device: torch.device | str | None


class RunOptions(EvaluationOptions, total=False):
    """Keyword options of :func:`evaluate_images` and :func:`evaluate` (and of
    :func:`~captum_nas.evaluation.distributed.evaluate_distributed`): ``pool`` (required),
    ``progress``, ``total`` and :class:`EvaluationOptions`."""

    pool: Required[Callable[[Tensor, Tensor], Tensor]]
    progress: bool
    total: int | None


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


#: One image's results, as made by :func:`evaluate_batch`: ``batch`` and ``position``
#: (where the image is in the data's batch order: the sort key of :func:`aggregate`),
#: ``name``, ``label`` (-1 unknown), ``prediction`` and ``results[method][segmenter]``,
#: a dict of small CPU tensors (``box_v1``/``box_v2`` IoUs over the CAM thresholds,
#: ``pxap_pos``/``pxap_neg`` pixel histograms, ``pointing``, ``part_iou``/``part_mass``,
#: ``gt_*`` mask metrics, ``morf``/``lerf``/``fraction`` curves) and the map ``dtype``.
#: Plain dicts, strings, numbers and tensors only: they pickle, ``torch.save`` and load
#: with ``torch.load(..., weights_only=True)``.
ImageRecord = dict[str, Any]


def check_evaluation_options(
    methods: Mapping[str, AttributionFn],
    segmenters: Mapping[str, SegmenterFn | None],
    *,
    target: str = "label",
    ground_truth: str | None = None,
) -> None:
    """Raise ``ValueError`` for options that :func:`evaluate` rejects (before any work)."""
    if target not in ("label", "predicted"):
        raise ValueError(f"`target` must be 'label' or 'predicted', got {target!r}")
    if ground_truth not in (None, "object", "part"):
        raise ValueError(f"`ground_truth` must be None, 'object' or 'part', got {ground_truth!r}")
    if not methods:
        raise ValueError("`methods` is empty")
    if not segmenters:
        raise ValueError("`segmenters` is empty")


def _one(t: Tensor, i: int) -> Tensor:
    """Row ``i`` of a per-image tensor as its own small CPU tensor (not a view that
    would carry the whole batch's storage into a pickle)."""
    return t[i].detach().cpu().clone()


def evaluate_batch(
    forward_func: Callable[[Tensor], Tensor],
    batch: EvalBatch,
    methods: Mapping[str, AttributionFn],
    segmenters: Mapping[str, SegmenterFn | None],
    *,
    pool: Callable[[Tensor, Tensor], Tensor],
    batch_index: int = 0,
    curves: bool = True,
    patch_size: int | None = None,
    curve_steps: int = 16,
    curve_baseline: str = "mean",
    forward_batch_size: int = 128,
    target: str = "label",
    ground_truth: str | None = None,
    device: torch.device | str | None = None,
) -> list[ImageRecord]:
    """Evaluate every method pooled over every segmenter on one batch.

    Args:
        forward_func: the model (logits).
        batch: an :class:`~captum_nas.evaluation.data.EvalBatch`.
        methods: name -> ``fn(inputs, target) -> (N, 1, H, W)`` pixel maps.
        segmenters: name -> segmenter, or ``None`` for the unpooled map.
        pool: ``pool(maps, segments) -> pooled maps``.
        batch_index: the batch's position in the data (recorded in every record).
        curves, patch_size, curve_steps, curve_baseline, forward_batch_size, target,
            ground_truth, device: as for :func:`evaluate`.

    Returns:
        One :data:`ImageRecord` per image, in batch order.

    Example:
        >>> from captum_nas.evaluation import attribution_fn
        >>> from captum_nas.pooling import segment_pool
        >>> batch = EvalBatch(images, labels, boxes=[torch.tensor([[8, 8, 24, 24]])] * 2)
        >>> fn = attribution_fn("saliency", model)
        >>> p = lambda maps, segments: segment_pool(maps, segments).map
        >>> methods, segmenters = {"saliency": fn}, {"none": None}
        >>> records = evaluate_batch(model, batch, methods, segmenters, pool=p, curves=False)
        >>> len(records), sorted(records[0])
        (2, ['batch', 'label', 'name', 'position', 'prediction', 'results'])
        >>> report = aggregate(records)
        >>> report.n_images, report.rows[0]["method"], report.rows[0]["segmenter"]
        (2, 'saliency', 'none')
    """
    check_evaluation_options(methods, segmenters, target=target, ground_truth=ground_truth)
    if device is not None:
        batch = batch.to(device)
    x = batch.images
    n = len(batch)
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
                + (" (a folder gives object masks from masks/)" if ground_truth == "part" else "")
            )
    known = batch.labels >= 0
    tgt = torch.where(known, batch.labels, pred) if target == "label" else pred
    records: list[ImageRecord] = [
        {
            "batch": int(batch_index),
            "position": i,
            "name": batch.names[i] if i < len(batch.names) else f"#{i}",
            "label": int(batch.labels[i]),
            "prediction": int(pred[i]),
            "results": {m: {} for m in methods},
        }
        for i in range(n)
    ]
    segments = {name: (None if seg is None else seg(x)) for name, seg in segmenters.items()}
    side = patch_size or max(1, min(x.shape[-2:]) // 8)
    for m_name, fn in methods.items():
        pixel = fn(x, tgt)
        for s_name, seg in segments.items():
            maps = pixel if seg is None else pool(pixel, seg)
            per_image: dict[str, Tensor] = {}
            v1, v2 = max_box_acc_v1_v2(maps, batch.boxes)
            per_image["box_v1"], per_image["box_v2"] = v1.best_iou, v2.best_iou
            if batch.object_masks is not None:
                pos, neg, _ = pxap_histograms(maps.cpu(), batch.object_masks.cpu())
                per_image["pxap_pos"], per_image["pxap_neg"] = pos, neg
                per_image["pointing"] = pointing_game(maps, batch.object_masks, tolerance=15)
            if gt_masks is not None:
                for key, value in _mask_metrics(maps, gt_masks, IOU_THRESHOLDS).items():
                    per_image[f"gt_{key}"] = value
            if batch.part_masks is not None:
                per_image["part_iou"] = _part_iou_curve(maps, batch.part_masks, IOU_THRESHOLDS)
                per_image["part_mass"] = relevance_mass_accuracy(maps, batch.part_masks)
            fraction = None
            if curves:
                gap = relevance_gap(
                    forward_func,
                    x,
                    maps,
                    tgt,
                    patch_size=side,
                    n_steps=curve_steps,
                    baselines=curve_baseline,
                    max_examples_per_batch=forward_batch_size,
                )
                per_image["morf"], per_image["lerf"] = gap.morf.scores, gap.lerf.scores
                fraction = gap.morf.fraction_removed[0].detach().cpu()
            for i, rec in enumerate(records):
                entry: dict[str, Any] = {"dtype": str(maps.dtype).removeprefix("torch.")}
                entry.update({k: _one(v, i) for k, v in per_image.items()})
                if fraction is not None:
                    entry["fraction"] = fraction.clone()
                rec["results"][m_name][s_name] = entry
    return records


def batch_evaluator(
    forward_func: Callable[[Tensor], Tensor],
    methods: Mapping[str, AttributionFn],
    segmenters: Mapping[str, SegmenterFn | None],
    options: Mapping[str, Any],
) -> Callable[[int, EvalBatch], list[ImageRecord]]:
    """Check a run's options once; then ``run(index, batch)`` is :func:`evaluate_batch`
    on the batch at position ``index`` of the data.

    Args:
        forward_func, methods, segmenters: as for :func:`evaluate_batch`.
        options: the run's keyword options (:class:`RunOptions`); ``progress`` and
            ``total`` are the caller's (its progress bar), the others go to
            :func:`evaluate_batch`.

    Returns:
        ``run(index, batch) -> records`` of that batch.
    """
    check_evaluation_options(
        methods,
        segmenters,
        target=options.get("target", "label"),
        ground_truth=options.get("ground_truth"),
    )
    per_batch = {k: v for k, v in options.items() if k not in ("progress", "total")}

    def run(index: int, batch: EvalBatch) -> list[ImageRecord]:
        return evaluate_batch(
            forward_func, batch, methods, segmenters, batch_index=index, **per_batch
        )

    return run


@expand_options(EvaluationOptions, evaluate_batch, last=("progress", "total", "device"))
def evaluate_images(
    forward_func: Callable[[Tensor], Tensor],
    batches: Iterable[EvalBatch],
    methods: Mapping[str, AttributionFn],
    segmenters: Mapping[str, SegmenterFn | None],
    *,
    pool: Callable[[Tensor, Tensor], Tensor],
    progress: bool = True,
    total: int | None = None,
    **options: Unpack[EvaluationOptions],
) -> list[ImageRecord]:
    """:func:`evaluate_batch` over every batch: the per-image records of a data set.

    Args:
        forward_func, batches, methods, segmenters, pool, progress, total: as for
            :func:`evaluate`.
        **options: the other keyword options of :func:`evaluate_batch`
            (:class:`EvaluationOptions`: ``curves``, ``ground_truth``, ``device``, ...).

    Returns:
        The records of every image, in data order (``batch_index`` counts batches).
    """
    run = batch_evaluator(forward_func, methods, segmenters, {"pool": pool, **options})
    records: list[ImageRecord] = []
    with tqdm(total=total, disable=not progress, desc="evaluate", unit="image") as bar:
        for index, batch in enumerate(batches):
            records += run(index, batch)
            bar.update(len(batch))
    return records


def _dtype(name: str) -> torch.dtype:
    dtype = getattr(torch, name, None)
    if not isinstance(dtype, torch.dtype):
        raise ValueError(f"record has an unknown map dtype {name!r}")
    return dtype


def _stack(entries: list[dict[str, Any]], key: str) -> Tensor:
    return torch.stack([e[key] for e in entries])


def aggregate(
    records: Iterable[ImageRecord], *, ground_truth: str | None = None
) -> EvaluationReport:
    """The :class:`EvaluationReport` of per-image records (any order, any split).

    Records are sorted by ``(batch, position)`` first, so records gathered from several
    processes or read back from a stored run give the same numbers as one pass.

    Args:
        records: :data:`ImageRecord` s of :func:`evaluate_batch`, each image once.
        ground_truth: the ``ground_truth`` the records were made with (for the report).

    Returns:
        An :class:`EvaluationReport`.

    Raises:
        ValueError: no records, an image twice, or records of different methods or
            segmenters.
    """
    order = sorted(records, key=lambda r: (r["batch"], r["position"]))
    if not order:
        raise ValueError("`records` is empty: no image was evaluated")
    keys = [(r["batch"], r["position"]) for r in order]
    dup = next((a for a, b in itertools.pairwise(keys) if a == b), None)
    if dup is not None:
        raise ValueError(f"`records` holds image {dup[1]} of batch {dup[0]} more than once")
    pairs = [(m, s) for m, segs in order[0]["results"].items() for s in segs]
    for r in order:
        got = [(m, s) for m, segs in r["results"].items() for s in segs]
        if got != pairs:
            raise ValueError(
                f"record of image {r['name']!r} has methods x segmenters {got}, expected {pairs}"
            )
    known = [r for r in order if r["label"] >= 0]
    correct = sum(r["prediction"] == r["label"] for r in known)
    report = EvaluationReport(
        accuracy=correct / len(known) if known else float("nan"),
        n_images=len(order),
        ground_truth=ground_truth,
    )
    for m_name, s_name in pairs:
        entries = [r["results"][m_name][s_name] for r in order]
        like = torch.empty(0, dtype=_dtype(entries[0]["dtype"]))
        cams = default_cam_thresholds(like)
        row: dict[str, float | str] = {"method": m_name, "segmenter": s_name}
        v1 = MaxBoxAccResult.from_best_iou(
            _stack(entries, "box_v1"), check_thresholds((0.5,), "iou", like)[0], cams, 1
        )
        v2 = MaxBoxAccResult.from_best_iou(
            _stack(entries, "box_v2"), check_thresholds((0.3, 0.5, 0.7), "iou", like)[0], cams, 2
        )
        row["maxboxacc_v1"] = float(v1.score)
        row["maxboxacc_v2"] = float(v2.score)
        for thr, value in zip(v2.iou_thresholds.tolist(), v2.max_box_acc.tolist()):
            row[f"boxacc_iou{round(thr * 100)}"] = float(value)
        with_masks = [e for e in entries if "pxap_pos" in e]
        if with_masks:
            ap = pxap_from_histograms(
                _stack(with_masks, "pxap_pos").sum(0),
                _stack(with_masks, "pxap_neg").sum(0),
                pxap_thresholds(like.dtype),
            )
            row["pxap"] = float(ap.score.to(like.dtype))
            row["pointing"] = float(_stack(with_masks, "pointing").float().mean())
        with_parts = [e for e in entries if "part_iou" in e]
        if with_parts:
            row["part_iou"] = float(_stack(with_parts, "part_iou").mean(0).max())
            row["part_mass"] = float(_stack(with_parts, "part_mass").mean())
        with_gt = [e for e in entries if "gt_iou" in e]
        if with_gt:
            iou = _stack(with_gt, "gt_iou").mean(0)
            row["gt_iou_best"] = float(iou.max())
            row["gt_iou_mean"] = float(iou.mean())
            row["gt_f1_best"] = float(_stack(with_gt, "gt_f1").mean(0).max())
            row["gt_continuous_iou"] = float(_stack(with_gt, "gt_ciou").mean())
            row["gt_roc_auc"] = float(_stack(with_gt, "gt_auc").nanmean())
            row["gt_coverage_object"] = float(_stack(with_gt, "gt_cov_obj").mean())
            row["gt_coverage_background"] = float(_stack(with_gt, "gt_cov_bg").mean())
            report.iou_curves[(m_name, s_name)] = {
                "thresholds": IOU_THRESHOLDS.tolist(),
                "iou": iou.tolist(),
            }
        with_curves = [e for e in entries if "morf" in e]
        if with_curves:
            morf, lerf = _stack(with_curves, "morf"), _stack(with_curves, "lerf")
            frac = with_curves[-1]["fraction"]
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


@same_parameters(evaluate_images)
def evaluate(*args: Any, **kwargs: Any) -> EvaluationReport:
    """Evaluate every method pooled over every segmenter on ``batches``.

    The same as ``aggregate(evaluate_images(...))``: per-image records, then the report
    (the parameters are :func:`evaluate_images`'s).

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
    return aggregate(evaluate_images(*args, **kwargs), ground_truth=kwargs.get("ground_truth"))
