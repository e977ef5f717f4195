import pytest
import torch
from torch.utils.data import DataLoader

from captum_nas.datasets import (
    CLASS_COLOURS,
    CLASS_NAMES,
    FLOWERS_NORMALIZER,
    NUISANCE_PALETTE,
    PART_NAMES,
    FlowersDataset,
    class_colours,
    denormalize,
    n_classes,
    render_flowers,
)

SMALL = 64  # image side used where the size does not matter
FIELDS = ("images", "labels", "part_masks", "object_masks", "boxes", "part_boxes", "parts")


def _same(a, b) -> None:
    for name in FIELDS:
        assert torch.equal(getattr(a, name), getattr(b, name)), name


@pytest.fixture(scope="module")
def single():
    return render_flowers(48, variant="single", image_size=SMALL, normalize=False)


@pytest.fixture(scope="module")
def double():
    return render_flowers(48, variant="double", image_size=SMALL, normalize=False)


def test_class_names_and_colours() -> None:
    assert CLASS_NAMES["single"] == (
        "red-petals",
        "orange-petals",
        "yellow-petals",
        "blue-petals",
        "purple-petals",
        "pink-petals",
    )
    assert len(CLASS_NAMES["double"]) == 12 == n_classes("double")
    assert len(set(CLASS_NAMES["double"])) == 12
    assert CLASS_NAMES["double"][0] == "red-petals+orange-leaves"
    assert CLASS_NAMES["double"][5] == "yellow-petals+cyan-leaves"
    colours = class_colours("double")
    assert colours.shape == (12, 2, 3)
    expected = torch.tensor([CLASS_COLOURS["yellow"], CLASS_COLOURS["cyan"]])
    assert torch.equal(colours[5], expected)
    single = torch.tensor([CLASS_COLOURS[n.split("-")[0]] for n in CLASS_NAMES["single"]])
    assert torch.equal(class_colours("single")[:, 0], single)


def test_shapes_and_dtypes(single) -> None:
    b = single
    assert len(b) == 48
    assert b.images.shape == (48, 3, SMALL, SMALL) and b.images.dtype == torch.float32
    assert b.labels.shape == (48,) and b.labels.dtype == torch.int64
    assert b.part_masks.shape == (48, 1, SMALL, SMALL) and b.part_masks.dtype == torch.bool
    assert b.object_masks.shape == (48, 1, SMALL, SMALL) and b.object_masks.dtype == torch.bool
    assert b.boxes.shape == (48, 4) and b.boxes.dtype == torch.int64
    assert b.parts.shape == (48, 1, SMALL, SMALL) and int(b.parts.max()) < len(PART_NAMES)
    assert torch.equal(b.indices, torch.arange(48))
    assert float(b.images.min()) >= 0.0 and float(b.images.max()) <= 1.0


def test_deterministic_and_index_dependent() -> None:
    a = render_flowers([5, 9], variant="double", image_size=SMALL, seed=3)
    b = render_flowers([5, 9], variant="double", image_size=SMALL, seed=3)
    _same(a, b)
    assert not torch.equal(a.images[0], a.images[1])
    c = render_flowers([5], variant="double", image_size=SMALL, seed=4)
    assert not torch.equal(a.images[0], c.images[0])


@pytest.mark.parametrize("size", [128, (33, 47)])
def test_random_access_equals_batch(size) -> None:
    # 70 images cross a chunk boundary at 128x128; odd sizes exercise vector tails
    batch = render_flowers(70, variant="double", image_size=size, seed=1)
    picks = [69, 0, 64, 31, 63, 65]
    sub = render_flowers(picks, variant="double", image_size=size, seed=1)
    for k, i in enumerate(picks):
        one = render_flowers([i], variant="double", image_size=size, seed=1)
        for name in FIELDS:
            assert torch.equal(getattr(batch, name)[i], getattr(one, name)[0]), (i, name)
            assert torch.equal(getattr(batch, name)[i], getattr(sub, name)[k]), (i, name)


def test_dataset_matches_renderer_and_dataloader() -> None:
    ds = FlowersDataset("single", "test", size=12, image_size=SMALL, seed=2)
    ref = render_flowers(12, variant="single", split="test", image_size=SMALL, seed=2)
    assert len(ds) == 12
    item = ds[3]
    assert set(item) == {
        "image",
        "label",
        "part_mask",
        "object_mask",
        "box",
        "part_box",
        "parts",
        "index",
    }
    assert torch.equal(item["image"], ref.images[3])
    assert torch.equal(ds[-1]["image"], ref.images[11])
    assert int(item["label"]) == int(ref.labels[3])
    for workers in (0, 2):
        loader = DataLoader(ds, batch_size=5, num_workers=workers)
        got = list(loader)
        assert [len(b["label"]) for b in got] == [5, 5, 2]
        images = torch.cat([b["image"] for b in got])
        assert torch.equal(images, ref.images)
        assert torch.equal(torch.cat([b["box"] for b in got]), ref.boxes)


def _mask_box(mask: torch.Tensor) -> list[int]:
    nz = mask.nonzero()
    y0, x0 = nz.min(0).values.tolist()
    y1, x1 = nz.max(0).values.tolist()
    return [x0, y0, x1 + 1, y1 + 1]


@pytest.mark.parametrize("variant", ["single", "double"])
def test_masks_and_boxes_consistent(variant, single, double) -> None:
    b = single if variant == "single" else double
    assert not (b.part_masks & ~b.object_masks).any()
    assert torch.equal(b.object_masks, b.parts > 0)
    deciding = (b.parts == PART_NAMES.index("petals")) | (
        (b.parts == PART_NAMES.index("leaves")) if variant == "double" else False
    )
    assert torch.equal(b.part_masks, deciding)
    for i in range(len(b)):
        obj, part = b.object_masks[i, 0], b.part_masks[i, 0]
        assert part.sum() > 0
        assert b.boxes[i].tolist() == _mask_box(obj)
        assert b.part_boxes[i].tolist() == _mask_box(part)
        # the whole flower lies inside the image: it never touches the border
        assert not (obj[0].any() or obj[-1].any() or obj[:, 0].any() or obj[:, -1].any())
        if variant == "double":
            assert (b.parts[i] == PART_NAMES.index("leaves")).sum() > 0


@pytest.mark.parametrize("variant", ["single", "double"])
def test_deciding_parts_have_exact_class_colour(variant, single, double) -> None:
    b = single if variant == "single" else double
    colours = class_colours(variant)
    names = ("petals",) if variant == "single" else ("petals", "leaves")
    for i in range(len(b)):
        for j, name in enumerate(names):
            mask = b.parts[i, 0] == PART_NAMES.index(name)
            pixels = b.images[i][:, mask]  # (3, n)
            expected = colours[b.labels[i], j][:, None].expand_as(pixels)
            assert torch.equal(pixels, expected)
            assert pixels.mean(1).tolist() == pytest.approx(colours[b.labels[i], j].tolist())


@pytest.mark.parametrize("variant", ["single", "double"])
def test_no_class_colour_outside_deciding_parts(variant, single, double) -> None:
    b = single if variant == "single" else double
    all_class = torch.tensor(list(CLASS_COLOURS.values()))  # (C, 3)
    outside = b.images.permute(0, 2, 3, 1)[~b.part_masks[:, 0]]  # (P, 3)
    dist = (outside[:, None, :] - all_class[None]).abs().amax(-1).amin(-1)
    assert float(dist.min()) > 0.15
    palette = torch.tensor(NUISANCE_PALETTE)
    gap = (palette[:, None, :] - all_class[None]).abs().amax(-1)
    assert float(gap.min()) > 0.3


@pytest.mark.parametrize("variant", ["single", "double"])
def test_recolouring_changes_only_the_deciding_parts(variant) -> None:
    idx = list(range(10))
    base = render_flowers(idx, variant=variant, image_size=SMALL, normalize=False, seed=7)
    k = n_classes(variant)
    new_labels = (base.labels + 1 + torch.arange(10) % (k - 1)) % k
    assert not torch.equal(new_labels, base.labels)
    other = render_flowers(
        idx, variant=variant, image_size=SMALL, normalize=False, seed=7, labels=new_labels
    )
    assert torch.equal(other.labels, new_labels)
    for name in ("part_masks", "object_masks", "boxes", "part_boxes", "parts"):
        assert torch.equal(getattr(base, name), getattr(other, name))
    keep = ~base.part_masks.expand_as(base.images)
    assert torch.equal(base.images[keep], other.images[keep])
    # the deciding pixels now have the new class's colours
    colours = class_colours(variant)
    names = ("petals",) if variant == "single" else ("petals", "leaves")
    for i in range(10):
        for j, name in enumerate(names):
            mask = other.parts[i, 0] == PART_NAMES.index(name)
            assert torch.equal(other.images[i][:, mask][:, 0], colours[new_labels[i], j])
            if colours[new_labels[i], j].tolist() != colours[base.labels[i], j].tolist():
                assert not torch.equal(other.images[i][:, mask], base.images[i][:, mask])


def test_labels_cover_all_classes_evenly() -> None:
    labels = render_flowers(1200, variant="single", image_size=32).labels
    counts = labels.bincount(minlength=6)
    assert counts.min() > 150 and counts.max() < 250  # expected 200 each


def test_splits_are_disjoint() -> None:
    train = render_flowers(32, split="train", image_size=SMALL, normalize=False)
    test = render_flowers(32, split="test", image_size=SMALL, normalize=False)
    diff = (train.images[:, None] - test.images[None]).abs().flatten(2).amax(-1)
    assert float(diff.min()) > 0.0
    assert not torch.equal(train.boxes, test.boxes)


def test_image_sizes() -> None:
    b = render_flowers(3, image_size=(96, 130), normalize=False)
    assert b.images.shape == (3, 3, 96, 130) and b.part_masks.shape == (3, 1, 96, 130)
    assert (b.boxes[:, 2] <= 130).all() and (b.boxes[:, 3] <= 96).all()
    big = render_flowers(2, image_size=224)
    assert big.images.shape == (2, 3, 224, 224)
    assert render_flowers(1, image_size=32).images.shape == (1, 3, 32, 32)
    # the flower scales with the image: same relative box at another size
    b128 = render_flowers([4], image_size=128).boxes[0].float() / 128
    b256 = render_flowers([4], image_size=256).boxes[0].float() / 256
    assert (b128 - b256).abs().max() < 0.03


def test_normalisation_round_trip() -> None:
    raw = render_flowers(4, image_size=SMALL, normalize=False)
    norm = render_flowers(4, image_size=SMALL)
    assert norm.normalized and not raw.normalized
    assert torch.allclose(norm.images, FLOWERS_NORMALIZER(raw.images))
    assert torch.allclose(denormalize(norm.images), raw.images, atol=1e-6)


def test_batch_to_and_sample() -> None:
    b = render_flowers(2, image_size=SMALL)
    moved = b.to("cpu")
    _same(b, moved)
    s = b.sample(1)
    assert torch.equal(s["part_mask"], b.part_masks[1]) and int(s["index"]) == 1


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"variant": "triple"}, ValueError, "variant"),
        ({"split": "val"}, ValueError, "split"),
        ({"image_size": 31}, ValueError, "image_size"),
        ({"image_size": (64, 16)}, ValueError, r"image_size\[1\]"),
        ({"image_size": (64, 64, 3)}, ValueError, "image_size"),
        ({"image_size": 64.0}, TypeError, "image_size"),
        ({"seed": -1}, ValueError, "seed"),
        ({"normalize": 1}, TypeError, "normalize"),
        ({"labels": [0, 6]}, ValueError, "labels"),
        ({"labels": [0]}, ValueError, "labels"),
        ({"labels": [0.0, 1.0]}, TypeError, "labels"),
    ],
)
def test_render_rejects_bad_arguments(kwargs, error, match) -> None:
    with pytest.raises(error, match=match):
        render_flowers(2, **kwargs)


@pytest.mark.parametrize(
    ("indices", "error"),
    [
        (0, ValueError),
        (-3, ValueError),
        ([], ValueError),
        ([1, -1], ValueError),
        ([2**32], ValueError),
        ([1.5], TypeError),
        (torch.tensor([1.0]), TypeError),
        (torch.zeros(2, 2, dtype=torch.long), ValueError),
        ("abc", TypeError),
        (True, TypeError),
    ],
)
def test_render_rejects_bad_indices(indices, error) -> None:
    with pytest.raises(error, match="indices"):
        render_flowers(indices)


def test_dataset_rejects_bad_arguments() -> None:
    with pytest.raises(ValueError, match="variant"):
        FlowersDataset("triple")
    with pytest.raises(ValueError, match="split"):
        FlowersDataset("single", "validation")
    with pytest.raises(ValueError, match="size"):
        FlowersDataset(size=0)
    with pytest.raises(ValueError, match="size"):
        FlowersDataset(size=-5)
    with pytest.raises(ValueError, match="image_size"):
        FlowersDataset(image_size=8)
    with pytest.raises(TypeError, match="normalize"):
        FlowersDataset(normalize="yes")
    ds = FlowersDataset(size=3, image_size=32)
    with pytest.raises(IndexError):
        ds[3]
    with pytest.raises(IndexError):
        ds[-4]
    with pytest.raises(TypeError):
        ds[1.0]
