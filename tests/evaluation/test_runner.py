import json

import pytest
import torch

from captum_nas.evaluation import EvalBatch, evaluate, to_json, to_markdown, write_report
from tests.conftest import TinyCNN


def _mean_pool(maps: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
    n, k = maps.shape[0], int(seg.max()) + 1
    flat, ids = maps.flatten(1), seg.flatten(1)
    sums = torch.zeros(n, k).scatter_add_(1, ids, flat)
    counts = torch.zeros(n, k).scatter_add_(1, ids, torch.ones_like(flat))
    return (sums / counts.clamp_min(1)).gather(1, ids).view_as(maps)


def _batch() -> EvalBatch:
    """Two 32x32 images; objects are rectangles of unequal width and height."""
    masks = torch.zeros(2, 1, 32, 32, dtype=torch.bool)
    masks[0, 0, 4:12, 8:24] = True  # y 4..11, x 8..23
    masks[1, 0, 16:32, 0:8] = True  # y 16..31, x 0..7
    parts = torch.zeros_like(masks)
    parts[0, 0, 4:8, 8:16] = True
    parts[1, 0, 16:24, 0:8] = True
    return EvalBatch(
        images=torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0)),
        labels=torch.tensor([1, -1]),
        boxes=[torch.tensor([[8, 4, 24, 12]]), torch.tensor([[0, 16, 8, 32]])],
        object_masks=masks,
        part_masks=parts,
        names=["a", "b"],
    )


def test_perfect_and_wrong_maps_get_known_scores() -> None:
    model = TinyCNN().eval()
    batch = _batch()
    methods = {
        "oracle": lambda x, t: batch.object_masks.float(),
        "inverse": lambda x, t: (~batch.object_masks).float(),
    }
    report = evaluate(
        model, [batch], methods, {"none": None}, pool=_mean_pool, curves=False, progress=False
    )
    rows = {r["method"]: r for r in report.rows}
    assert rows["oracle"]["maxboxacc_v1"] == 1.0
    assert rows["oracle"]["maxboxacc_v2"] == 1.0
    assert rows["oracle"]["pxap"] == pytest.approx(1.0)
    assert rows["oracle"]["pointing"] == 1.0
    # the part is a quarter/half of the object: best IoU at the object threshold
    part_iou = (4 * 8 / (8 * 16) + 8 * 8 / (16 * 8)) / 2
    assert rows["oracle"]["part_iou"] == pytest.approx(part_iou)
    assert rows["oracle"]["part_mass"] == pytest.approx(part_iou)
    assert rows["inverse"]["maxboxacc_v1"] == 0.0
    assert rows["inverse"]["part_mass"] == 0.0
    assert report.n_images == 2


def test_pooling_over_segments_is_applied() -> None:
    model = TinyCNN().eval()
    batch = _batch()
    assert batch.object_masks is not None
    seen: list[torch.Tensor] = []

    def pool(maps: torch.Tensor, seg: torch.Tensor) -> torch.Tensor:
        seen.append(seg)
        return _mean_pool(maps, seg)

    def object_segmenter(x: torch.Tensor) -> torch.Tensor:
        return batch.object_masks.long()  # type: ignore[union-attr]

    # one relevant pixel inside each object
    point = torch.zeros(2, 1, 32, 32)
    point[0, 0, 6, 10] = 1.0
    point[1, 0, 20, 3] = 1.0
    report = evaluate(
        model,
        [batch],
        {"point": lambda x, t: point},
        {"none": None, "objects": object_segmenter},
        pool=pool,
        curves=False,
        progress=False,
    )
    assert len(seen) == 1 and seen[0].shape == (2, 1, 32, 32)
    rows = {r["segmenter"]: r for r in report.rows}
    # pooled over the object segment the map is the object: perfect boxes
    assert rows["objects"]["maxboxacc_v1"] == 1.0 and rows["objects"]["boxacc_iou70"] == 1.0
    # unpooled: a 1x1 box never reaches IoU 0.3
    assert rows["none"]["maxboxacc_v1"] == 0.0 and rows["none"]["boxacc_iou30"] == 0.0
    assert rows["none"]["pointing"] == 1.0


def test_targets_and_curves() -> None:
    model = TinyCNN().eval()
    batch = _batch()
    targets: list[torch.Tensor] = []

    def method(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        targets.append(t)
        return batch.object_masks.float()

    report = evaluate(
        model,
        [batch],
        {"m": method},
        {"none": None},
        pool=_mean_pool,
        curves=True,
        curve_steps=4,
        patch_size=8,
        progress=False,
    )
    pred = model(batch.images).argmax(1)
    # labelled image: its label; unlabelled: the prediction
    assert targets[0].tolist() == [1, int(pred[1])]
    curve = report.curves[("m", "none")]
    assert len(curve["morf"]) == 5 and curve["fraction"][0] == 0.0
    row = report.rows[0]
    assert row["gap"] == pytest.approx(row["auc_lerf"] - row["auc_morf"])
    assert report.accuracy == float(pred[0] == 1)


def test_report_outputs(tmp_path) -> None:  # type: ignore[no-untyped-def]
    model = TinyCNN().eval()
    batch = _batch()
    report = evaluate(
        model,
        [batch],
        {"oracle": lambda x, t: batch.object_masks.float()},
        {"none": None},
        pool=_mean_pool,
        curves=True,
        curve_steps=2,
        progress=False,
    )
    md = to_markdown(report)
    assert md.splitlines()[0].startswith("| method | segmenter | maxboxacc_v1")
    assert "| oracle | none | 1.000 | 1.000 |" in md
    data = json.loads(to_json(report))
    assert data["rows"][0]["maxboxacc_v1"] == 1.0 and "higher" in data["metrics"]["pxap"]
    paths = write_report(report, tmp_path)
    assert {p.name for p in paths.values()} == {
        "results.md",
        "results.csv",
        "results.json",
        "localization.png",
        "relevance_curves.png",
    }
    assert all(p.stat().st_size > 0 for p in paths.values())


def test_bad_arguments() -> None:
    model = TinyCNN().eval()
    with pytest.raises(ValueError, match="target"):
        evaluate(model, [], {"m": lambda x, t: x}, {"none": None}, pool=_mean_pool, target="gt")
    with pytest.raises(ValueError, match="methods"):
        evaluate(model, [], {}, {"none": None}, pool=_mean_pool)
    with pytest.raises(ValueError, match="segmenters"):
        evaluate(model, [], {"m": lambda x, t: x}, {}, pool=_mean_pool)


def test_localization_figure_titles_name_the_iou_thresholds() -> None:
    from captum_nas.evaluation import EvaluationReport, localization_figure

    row = {"method": "m", "segmenter": "none", "boxacc_iou30": 1.0, "boxacc_iou50": 0.5}
    row["boxacc_iou70"] = 0.25
    fig = localization_figure(EvaluationReport(rows=[row]))
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == [
        "box accuracy, IoU 0.3",
        "box accuracy, IoU 0.5",
        "box accuracy, IoU 0.7",
    ]
    heights = [patch.get_height() for ax in fig.axes for patch in ax.patches]
    assert heights == [1.0, 0.5, 0.25]


def test_ground_truth_mask_metric_group_hand_computed() -> None:
    model = TinyCNN().eval()
    batch = _batch()
    assert batch.object_masks is not None
    # object pixels 1, a 128-pixel stripe off the object 0.255, the rest 0 (image 0);
    # image 1 gets the mask itself (a perfect map)
    graded = batch.object_masks.float().clone()
    graded[0, 0, 20:24, :] = 0.255
    report = evaluate(
        model,
        [batch],
        {"graded": lambda x, t: graded},
        {"none": None},
        pool=_mean_pool,
        curves=False,
        progress=False,
        ground_truth="object",
    )
    row = report.rows[0]
    obj0, stripe, bg0 = 8 * 16, 4 * 32, 32 * 32 - 8 * 16
    # thresholds 0.00..0.25 (26 of the grid) keep the stripe: IoU obj / (obj + stripe)
    iou_low = obj0 / (obj0 + stripe)
    assert row["gt_iou_best"] == pytest.approx(1.0)
    assert row["gt_f1_best"] == pytest.approx(1.0)
    assert row["gt_iou_mean"] == pytest.approx(((26 * iou_low + 74) / 100 + 1.0) / 2)
    assert row["gt_continuous_iou"] == pytest.approx((obj0 / (obj0 + 0.255 * stripe) + 1) / 2)
    assert row["gt_roc_auc"] == pytest.approx(1.0)
    assert row["gt_coverage_object"] == pytest.approx(1.0)
    assert row["gt_coverage_background"] == pytest.approx(0.255 * stripe / bg0 / 2)
    curve = report.iou_curves[("graded", "none")]
    assert len(curve["thresholds"]) == len(curve["iou"]) == 100
    assert curve["iou"][0] == pytest.approx((iou_low + 1) / 2) and curve["iou"][-1] == 1.0
    assert report.ground_truth == "object"
    parsed = json.loads(to_json(report))
    assert parsed["ground_truth"] == "object" and len(parsed["iou_curves"]) == 1
    assert "gt_iou_mean" in to_markdown(report)


def test_ground_truth_part_and_missing_masks() -> None:
    model = TinyCNN().eval()
    batch = _batch()
    report = evaluate(
        model,
        [batch],
        {"part": lambda x, t: batch.part_masks.float()},  # type: ignore[union-attr]
        {"none": None},
        pool=_mean_pool,
        curves=False,
        progress=False,
        ground_truth="part",
    )
    assert report.rows[0]["gt_iou_best"] == pytest.approx(1.0)
    no_parts = EvalBatch(batch.images, batch.labels, batch.boxes, batch.object_masks, None)
    with pytest.raises(ValueError, match="no part masks"):
        evaluate(
            model,
            [no_parts],
            {"m": lambda x, t: x[:, :1]},
            {"none": None},
            pool=_mean_pool,
            curves=False,
            progress=False,
            ground_truth="part",
        )
    with pytest.raises(ValueError, match="`ground_truth`"):
        evaluate(
            model,
            [batch],
            {"m": lambda x, t: x},
            {"none": None},
            pool=_mean_pool,
            ground_truth="box",
        )


def test_labels_beyond_the_models_classes_are_an_error() -> None:
    batch = _batch()
    batch.labels = torch.tensor([7, 0])  # TinyCNN has 5 classes
    with pytest.raises(ValueError, match="label 7 of image a is out of range for a model with 5"):
        evaluate(
            TinyCNN().eval(),
            [batch],
            {"m": lambda x, t: x[:, :1].abs()},
            {"none": None},
            pool=_mean_pool,
            curves=False,
            progress=False,
        )


def test_progress_ticks_per_image(capsys: pytest.CaptureFixture[str]) -> None:
    batch = _batch()
    evaluate(
        TinyCNN().eval(),
        [batch, batch],
        {"m": lambda x, t: x[:, :1].abs()},
        {"none": None},
        pool=_mean_pool,
        curves=False,
        progress=True,
        total=4,
    )
    err = capsys.readouterr().err
    assert "4/4" in err and "image" in err
