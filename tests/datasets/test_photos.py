import numpy as np
import pytest
import torch

from captum_nas.datasets import (
    PHOTO_BACKGROUNDS,
    PHOTO_OBJECTS,
    PHOTOS_NORMALIZER,
    TARGET_OBJECTS,
    photo_batches,
    render_photos,
)
from captum_nas.datasets.photos import photo_background, photo_object
from captum_nas.evaluation.data import EvalBatch


@pytest.fixture(scope="module")
def batch():
    return render_photos(range(12), seed=0)


def test_shapes_types_and_range(batch) -> None:
    assert batch.images.shape == (12, 3, 224, 224) and batch.images.dtype == torch.float32
    assert 0.0 <= float(batch.images.min()) and float(batch.images.max()) <= 1.0
    assert batch.object_masks.shape == (12, 1, 224, 224) and batch.object_masks.dtype == torch.bool
    assert batch.boxes.shape == (12, 4) and batch.boxes.dtype == torch.long
    assert len(batch) == 12 and not batch.normalized
    assert set(batch.backgrounds) <= set(PHOTO_BACKGROUNDS)


def test_targets_cycle_and_labels_are_imagenet_ids(batch) -> None:
    names = [o[0] for o in batch.objects]
    assert names == [TARGET_OBJECTS[i % len(TARGET_OBJECTS)] for i in range(12)]
    assert batch.labels.tolist() == [PHOTO_OBJECTS[n].label for n in names]


def test_deterministic_and_independent_of_the_batch(batch) -> None:
    again = render_photos([5, 3], seed=0)
    assert torch.equal(again.images[0], batch.images[5])
    assert torch.equal(again.object_masks[1], batch.object_masks[3])
    other = render_photos([5], seed=1)
    assert not torch.equal(other.images[0], batch.images[5])


def test_box_is_the_mask_extent_and_masks_are_exact(batch) -> None:
    for i in range(len(batch)):
        mask = batch.object_masks[i, 0]
        ys, xs = torch.nonzero(mask, as_tuple=True)
        x0, y0, x1, y1 = batch.boxes[i].tolist()
        assert (x0, y0, x1, y1) == (xs.min(), ys.min(), xs.max() + 1, ys.max() + 1)
        # the mask is inside its box, and covers a sizeable part of it
        inside = torch.zeros_like(mask)
        inside[y0:y1, x0:x1] = True
        assert not bool((mask & ~inside).any())
        assert float(mask.float().sum()) > 0.3 * (x1 - x0) * (y1 - y0)
        assert not bool((mask & batch.distractor_masks[i, 0]).any())


def test_pasted_pixels_are_the_cut_out() -> None:
    # one object on a background: the masked pixels are the resized cut-out's, and a
    # pixel outside the mask keeps the background (differs from the object's colour)
    b = render_photos([0], seed=3)
    rgb, mask = photo_object(b.objects[0][0])
    assert mask.any() and rgb.shape[:2] == mask.shape
    assert not rgb[~mask].any()  # zero outside the cut-out
    m = b.object_masks[0, 0]
    assert 0.15 * 224**2 * 0.3 < float(m.sum()) < 0.6 * 224**2


def test_some_images_have_two_objects() -> None:
    b = render_photos(range(24), seed=0)
    two = [i for i, o in enumerate(b.objects) if len(o) == 2]
    assert 3 <= len(two) <= 12
    for i in two:
        assert b.objects[i][0] != b.objects[i][1]
        assert bool(b.distractor_masks[i].any())
    for i in set(range(24)) - set(two):
        assert not bool(b.distractor_masks[i].any())


def test_backgrounds_are_rgb_in_range() -> None:
    for name in PHOTO_BACKGROUNDS:
        img = photo_background(name)
        assert img.ndim == 3 and img.shape[2] == 3 and img.dtype == np.float32
        assert 0.0 <= img.min() and img.max() <= 1.0 and min(img.shape[:2]) >= 100


def test_normalize_and_eval_batches() -> None:
    b = render_photos([1, 2], seed=0, normalize=True)
    raw = render_photos([1, 2], seed=0)
    assert b.normalized and torch.allclose(b.images, PHOTOS_NORMALIZER(raw.images))
    batches = list(photo_batches(n=5, batch_size=3, seed=0))
    assert [len(e) for e in batches] == [3, 2]
    first = batches[0]
    assert isinstance(first, EvalBatch)
    assert torch.allclose(first.images[1:], b.images)
    assert first.boxes[1].shape == (1, 4) and first.object_masks is not None
    assert first.names[0].startswith("photos-0-cat")


def test_bad_arguments() -> None:
    with pytest.raises(ValueError, match="non-negative"):
        render_photos([-1])
    with pytest.raises(ValueError, match="seed"):
        render_photos([0], seed=-2)
    with pytest.raises(ValueError, match="image_size"):
        render_photos([0], image_size=32)
    with pytest.raises(ValueError, match="empty"):
        render_photos([])
    with pytest.raises(TypeError, match="bool"):
        render_photos(True)
    with pytest.raises(ValueError, match="name"):
        photo_object("dog")
    with pytest.raises(ValueError, match="name"):
        photo_background("sea")


def test_labels_recognised_by_efficientnet(lite0) -> None:
    # single-object images of each target: the label is in the model's top 5
    b = render_photos([0, 1, 2, 3, 4, 5], seed=0, normalize=True)
    single = [i for i, o in enumerate(b.objects) if len(o) == 1]
    assert len(single) >= 4
    with torch.no_grad():
        top5 = lite0(b.images[single]).topk(5, 1).indices
    hits = [int(b.labels[i]) in top5[j].tolist() for j, i in enumerate(single)]
    assert sum(hits) >= len(single) - 1
