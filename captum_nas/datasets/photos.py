"""Real-photograph composites with exact ground truth, built from scikit-image's samples.

Each image is a cut-out of a real object photograph pasted onto a crop of a real
photographed texture, all taken from the sample images that ship with scikit-image
(nothing is downloaded). Because the object is pasted, its mask is exact: the mask is
the set of pasted pixels, and the box is the mask's extent. The cut-outs follow the
object's outline: a hand-drawn polygon (the cat's head, the motorcycle), two ellipses
(the espresso cup on its saucer) or a brightness rule on the night sky (the rocket);
each was checked by eye on an overlay.

Objects (ImageNet class the image is labelled with; the classes EfficientNet-Lite0
gives the uncut photograph in its top 5):

=========  =======================  ==============================================
name       source                   label
=========  =======================  ==============================================
cat        ``chelsea``              285 Egyptian cat (281 tabby, 282 tiger cat)
espresso   ``coffee``               967 espresso (968 cup)
moped      ``stereo_motorcycle``    665 moped (670 motor scooter)
rocket     ``rocket``               657 missile (744 projectile)
=========  =======================  ==============================================

Backgrounds: ``grass``, ``gravel``, ``brick``, ``moon`` (grey photographs, given a
random tint), ``hubble`` (a deep-field star image), ``tissue`` (stained tissue,
``immunohistochemistry``), ``coins``, ``retina``, ``sky`` (the dusk sky of ``rocket``)
and ``garage`` (the shelves behind the motorcycle). The hard ones (moon, stars,
tissue, coins, garage) are there on purpose: a segmenter that follows colour alone
breaks objects apart on them.

Every image is determined by ``(seed, index)``: the same index gives the same image
whatever else is rendered with it. About a quarter of the images hold two different
objects; the first is the target (its class is the label, its mask and box the ground
truth), the second a distractor whose mask is kept apart.

Example:
    >>> batch = render_photos(range(8), seed=0)
    >>> batch.images.shape, batch.object_masks.shape
    (torch.Size([8, 3, 224, 224]), torch.Size([8, 1, 224, 224]))
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import Tensor

from captum_nas._validation import check_positive_int
from captum_nas.images import Normalizer

if TYPE_CHECKING:  # pragma: no cover
    from captum_nas.evaluation.data import EvalBatch

#: How EfficientNet-Lite0 expects its inputs, ``(pixel - 127) / 128``.
PHOTOS_NORMALIZER = Normalizer((127.0 / 255,) * 3, (128.0 / 255,) * 3)


@dataclass(frozen=True)
class PhotoObject:
    """One cut-out object.

    Attributes:
        name: short name.
        source: the ``skimage.data`` function it is cut from.
        label: ImageNet class id the images are labelled with.
        accepted: ImageNet ids that name the same object (the label included).
    """

    name: str
    source: str
    label: int
    accepted: tuple[int, ...]


PHOTO_OBJECTS: dict[str, PhotoObject] = {
    "cat": PhotoObject("cat", "chelsea", 285, (281, 282, 285)),
    "espresso": PhotoObject("espresso", "coffee", 967, (967, 968)),
    "moped": PhotoObject("moped", "stereo_motorcycle", 665, (665, 670)),
    "rocket": PhotoObject("rocket", "rocket", 657, (657, 744)),
}
#: The objects that are targets (EfficientNet-Lite0 recognises them on the composites);
#: the rocket, which it does not recognise once cut out of its launch pad, only
#: appears as a distractor.
TARGET_OBJECTS = ("cat", "espresso", "moped")
PHOTO_BACKGROUNDS = (
    "grass",
    "gravel",
    "brick",
    "moon",
    "hubble",
    "tissue",
    "coins",
    "retina",
    "sky",
    "garage",
)

_GREY_BACKGROUNDS = frozenset({"grass", "gravel", "brick", "moon", "coins"})

# outlines, (x, y) in the source image's pixels, checked by eye on overlays
_CAT_POLYGON = (
    (55, 30), (100, 12), (200, 2), (300, 2), (332, 12), (354, 60), (366, 150), (356, 230),
    (330, 298), (40, 298), (10, 230), (5, 120), (22, 66),
)  # fmt: skip
_MOPED_POLYGON = (
    (95, 198), (140, 165), (200, 158), (300, 165), (345, 160), (380, 145), (430, 135),
    (475, 110), (510, 95), (545, 110), (580, 130), (555, 180), (535, 205), (545, 262),
    (620, 270), (645, 300), (600, 380), (470, 370), (420, 385), (330, 390), (210, 380),
    (150, 300), (95, 230),
)  # fmt: skip
_MOPED_WHEELS = ((318, 205, 88), (368, 598, 85))  # (y, x, radius)
_ESPRESSO_ELLIPSES = ((230, 278, 160, 198), (110, 290, 93, 118))  # (cy, cx, ry, rx)


def _skimage(name: str) -> np.ndarray:
    from skimage import data

    img = getattr(data, name)()
    return np.asarray(img[0] if isinstance(img, tuple) else img)


def _rgb01(arr: np.ndarray) -> np.ndarray:
    a = arr.astype(np.float32)
    if arr.dtype == np.uint8:
        a /= 255.0
    if a.ndim == 2:
        a = np.repeat(a[..., None], 3, axis=-1)
    return np.ascontiguousarray(a[..., :3])


def _object_mask(name: str, shape: tuple[int, int], image: np.ndarray) -> np.ndarray:
    from scipy import ndimage as ndi
    from skimage.draw import disk, ellipse, polygon
    from skimage.measure import label

    mask = np.zeros(shape, bool)
    if name in ("cat", "moped"):
        pts = _CAT_POLYGON if name == "cat" else _MOPED_POLYGON
        rr, cc = polygon([p[1] for p in pts], [p[0] for p in pts], shape)
        mask[rr, cc] = True
        if name == "moped":
            for cy, cx, r in _MOPED_WHEELS:
                rr, cc = disk((cy, cx), r, shape=shape)
                mask[rr, cc] = True
    elif name == "espresso":
        for cy, cx, ry, rx in _ESPRESSO_ELLIPSES:
            rr, cc = ellipse(cy, cx, ry, rx, shape)
            mask[rr, cc] = True
    elif name == "rocket":
        # the white rocket against the dark blue dusk sky, inside a window around it
        y0, y1, x0, x1 = 120, 405, 295, 345
        win = image[y0:y1, x0:x1]
        bright = (win.mean(-1) > 70 / 255) & (win[..., 2] < win[..., 0] + 40 / 255)
        comps = label(bright)
        body = comps == comps[130, 25]
        body = ndi.binary_fill_holes(ndi.binary_closing(body, iterations=2))
        mask[y0:y1, x0:x1] = body
    else:  # pragma: no cover - guarded by the callers
        raise ValueError(f"unknown object {name!r}")
    return mask


@cache
def photo_object(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The cut-out of object ``name``: RGB (h, w, 3) float32 in [0, 1] and its mask (h, w).

    Both are cropped to the mask's extent; pixels outside the mask are zero.

    Raises:
        ValueError: unknown name.
    """
    if name not in PHOTO_OBJECTS:
        raise ValueError(f"`name` must be one of {sorted(PHOTO_OBJECTS)}, got {name!r}")
    image = _rgb01(_skimage(PHOTO_OBJECTS[name].source))
    mask = _object_mask(name, image.shape[:2], image)
    ys, xs = np.nonzero(mask)
    sl = (slice(ys.min(), ys.max() + 1), slice(xs.min(), xs.max() + 1))
    rgb = image[sl] * mask[sl][..., None]
    out = (np.ascontiguousarray(rgb), np.ascontiguousarray(mask[sl]))
    for a in out:
        a.setflags(write=False)
    return out


@cache
def photo_background(name: str) -> np.ndarray:
    """Texture ``name`` as RGB (h, w, 3) float32 in [0, 1] (grey ones have 3 equal channels).

    Raises:
        ValueError: unknown name.
    """
    if name not in PHOTO_BACKGROUNDS:
        raise ValueError(f"`name` must be one of {PHOTO_BACKGROUNDS}, got {name!r}")
    source = {"hubble": "hubble_deep_field", "tissue": "immunohistochemistry"}.get(name, name)
    if name == "sky":
        img = _rgb01(_skimage("rocket"))[:110, 100:540]
    elif name == "garage":
        img = _rgb01(_skimage("stereo_motorcycle"))[:300, 560:]
    elif name == "retina":
        img = _rgb01(_skimage("retina"))[350:1050, 350:1050]
    else:
        img = _rgb01(_skimage(source))
    img = np.ascontiguousarray(img)
    img.setflags(write=False)
    return img


def _resize(a: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear resize with antialiasing of an (h, w) or (h, w, C) float array."""
    t = torch.from_numpy(np.array(a, dtype=np.float32))
    t = t[None, None] if t.dim() == 2 else t.permute(2, 0, 1)[None]
    out = torch.nn.functional.interpolate(
        t, size=shape, mode="bilinear", align_corners=False, antialias=True
    )[0]
    return (out[0] if a.ndim == 2 else out.permute(1, 2, 0)).clamp(0.0, 1.0).numpy()


def _background(rng: np.random.Generator, name: str, size: int) -> np.ndarray:
    tex = photo_background(name)
    h, w = tex.shape[:2]
    side = int(rng.uniform(0.5, 1.0) * min(h, w))
    y0 = int(rng.integers(0, h - side + 1))
    x0 = int(rng.integers(0, w - side + 1))
    crop = tex[y0 : y0 + side, x0 : x0 + side]
    if rng.random() < 0.5:
        crop = crop[:, ::-1]
    out = _resize(crop, (size, size))
    grey = name in _GREY_BACKGROUNDS
    tint = rng.uniform(0.55, 1.0, size=3).astype(np.float32)
    if grey:  # a random tint, so grey photographs do not all look alike
        out = out * tint / tint.max()
    return np.clip(out, 0.0, 1.0)


def _place(
    rng: np.random.Generator, name: str, area: float, size: int, taken: Sequence[tuple[int, ...]]
) -> tuple[np.ndarray, np.ndarray, tuple[int, int, int, int]] | None:
    rgb, mask = photo_object(name)
    h, w = mask.shape
    # the object's box covers ``area`` of the image, its longest side at most 95 %
    scale = min(area**0.5 * size / (h * w) ** 0.5, 0.95 * size / max(h, w))
    nh, nw = max(2, round(h * scale)), max(2, round(w * scale))
    if rng.random() < 0.5:
        rgb, mask = rgb[:, ::-1], mask[:, ::-1]
    for _ in range(50):
        y0 = int(rng.integers(0, size - nh + 1))
        x0 = int(rng.integers(0, size - nw + 1))
        box = (x0, y0, x0 + nw, y0 + nh)
        if all(box[2] <= t[0] or t[2] <= box[0] or box[3] <= t[1] or t[3] <= box[1] for t in taken):
            m = _resize(mask, (nh, nw)) > 0.5
            img = _resize(rgb, (nh, nw))
            return img, m, box
    return None


def _render_one(index: int, seed: int, size: int) -> dict[str, Any]:
    rng = np.random.default_rng([seed, index])
    names = list(PHOTO_OBJECTS)
    target = TARGET_OBJECTS[index % len(TARGET_OBJECTS)]
    bg_name = PHOTO_BACKGROUNDS[int(rng.integers(len(PHOTO_BACKGROUNDS)))]
    canvas = _background(rng, bg_name, size)
    two = rng.random() < 0.25
    lo, hi = (0.14, 0.25) if two else (0.15, 0.6)
    objects = [target]
    if two:
        others = [n for n in names if n != target]
        objects.append(others[int(rng.integers(len(others)))])
    masks: list[np.ndarray] = []
    boxes: list[tuple[int, int, int, int]] = []
    for name in objects:
        placed = _place(rng, name, float(rng.uniform(lo, hi)), size, boxes)
        if placed is None:  # no room left for a distractor
            break
        img, m, (x0, y0, x1, y1) = placed
        region = canvas[y0:y1, x0:x1]
        region[m] = img[m]
        full = np.zeros((size, size), bool)
        full[y0:y1, x0:x1] = m
        masks.append(full)
        ys, xs = np.nonzero(full)
        boxes.append((int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1))
    distractor = masks[1] if len(masks) > 1 else np.zeros((size, size), bool)
    return {
        "image": canvas,
        "mask": masks[0],
        "distractor": distractor,
        "box": boxes[0],
        "label": PHOTO_OBJECTS[target].label,
        "objects": objects[: len(masks)],
        "background": bg_name,
    }


@dataclass
class PhotoBatch:
    """A rendered batch of photo composites with their ground truth.

    Attributes:
        images: (N, 3, H, W) float32, in [0, 1], or normalised with
            :data:`PHOTOS_NORMALIZER` when ``normalized``.
        labels: (N,) int64 ImageNet ids of the target objects.
        object_masks: (N, 1, H, W) bool, the target object's pixels (exact).
        distractor_masks: (N, 1, H, W) bool, the second object's pixels (empty when
            the image holds one object).
        boxes: (N, 4) int64 target boxes (x0, y0, x1, y1), x1 and y1 exclusive.
        objects: per image, the names of the objects in it (target first).
        backgrounds: per image, the background's name.
        indices: (N,) int64 sample indices.
        normalized: whether ``images`` are normalised.
    """

    images: Tensor
    labels: Tensor
    object_masks: Tensor
    distractor_masks: Tensor
    boxes: Tensor
    objects: list[list[str]]
    backgrounds: list[str]
    indices: Tensor
    normalized: bool

    def __len__(self) -> int:
        return int(self.labels.shape[0])


def render_photos(
    indices: int | Sequence[int] | Tensor,
    *,
    seed: int = 0,
    image_size: int = 224,
    normalize: bool = False,
) -> PhotoBatch:
    """Render photo composites ``indices``.

    Args:
        indices: sample indices (non-negative), or an int ``n`` for ``0..n-1``.
        seed: non-negative int; with the index it determines the image.
        image_size: side of the square images (at least 64).
        normalize: normalise the images with :data:`PHOTOS_NORMALIZER`.

    Returns:
        A :class:`PhotoBatch`.

    Raises:
        ValueError: negative indices or seed, too small an image size.
        TypeError: non-integer arguments.

    Example:
        >>> batch = render_photos(4, seed=0)
        >>> batch.labels.tolist()        # targets cycle over cat, espresso, moped
        [285, 967, 665, 285]
    """
    if isinstance(indices, bool):
        raise TypeError("`indices` must be an int, a sequence of ints or a tensor, got bool")
    if isinstance(indices, int):
        idx = list(range(check_positive_int(indices, "indices")))
    elif isinstance(indices, Tensor):
        if indices.is_floating_point() or indices.dim() != 1:
            raise ValueError(
                f"`indices` tensor must be 1-D integer, got {indices.dtype} {indices.shape}"
            )
        idx = [int(i) for i in indices.tolist()]
    else:
        idx = [int(i) for i in indices]
    if not idx:
        raise ValueError("`indices` is empty")
    if min(idx) < 0:
        raise ValueError(f"`indices` must be non-negative, got {min(idx)}")
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"`seed` must be a non-negative int, got {seed!r}")
    size = check_positive_int(image_size, "image_size")
    if size < 64:
        raise ValueError(f"`image_size` must be at least 64, got {size}")
    items = [_render_one(i, seed, size) for i in idx]
    images = torch.from_numpy(np.stack([it["image"] for it in items])).permute(0, 3, 1, 2)
    images = images.contiguous()
    if normalize:
        images = PHOTOS_NORMALIZER(images)
    return PhotoBatch(
        images=images,
        labels=torch.tensor([it["label"] for it in items], dtype=torch.long),
        object_masks=torch.from_numpy(np.stack([it["mask"] for it in items]))[:, None],
        distractor_masks=torch.from_numpy(np.stack([it["distractor"] for it in items]))[:, None],
        boxes=torch.tensor([it["box"] for it in items], dtype=torch.long),
        objects=[list(it["objects"]) for it in items],
        backgrounds=[str(it["background"]) for it in items],
        indices=torch.tensor(idx, dtype=torch.long),
        normalized=normalize,
    )


def photo_batches(
    *,
    n: int = 120,
    batch_size: int = 16,
    seed: int = 0,
    image_size: int | None = None,
    normalizer: Normalizer | None = None,
) -> Iterator[EvalBatch]:
    """Photo composites as evaluation batches (normalised for EfficientNet-Lite0).

    Args:
        n: number of images (indices ``0..n-1``).
        batch_size: images per batch.
        seed: data seed.
        image_size: image side (default 224, EfficientNet-Lite0's size).
        normalizer: how the model expects its inputs (default :data:`PHOTOS_NORMALIZER`).

    Returns:
        An iterator of :class:`~captum_nas.evaluation.data.EvalBatch` (the last one may
        be smaller).
    """
    from captum_nas.evaluation.data import EvalBatch

    n = check_positive_int(n, "n")
    batch_size = check_positive_int(batch_size, "batch_size")
    norm = normalizer or PHOTOS_NORMALIZER
    size = 224 if image_size is None else image_size
    for start in range(0, n, batch_size):
        pb = render_photos(range(start, min(n, start + batch_size)), seed=seed, image_size=size)
        yield EvalBatch(
            images=norm(pb.images),
            labels=pb.labels,
            boxes=[b.reshape(1, 4) for b in pb.boxes],
            object_masks=pb.object_masks,
            names=[
                f"photos-{int(i)}-{'+'.join(o)}-{b}"
                for i, o, b in zip(pb.indices, pb.objects, pb.backgrounds)
            ],
        )


#: The scikit-image photographs :func:`seam_composites` pairs by default.
SEAM_PHOTOS = ("chelsea", "coffee", "astronaut", "rocket", "immunohistochemistry")


def seam_composites(
    names: Sequence[str] = SEAM_PHOTOS, *, image_size: int = 224
) -> tuple[Tensor, Tensor]:
    """Two photographs meeting along a straight seam, for every ordered pair of ``names``.

    Image ``i`` of a pair ``(a, b)`` is photo ``a`` with one half replaced by the same
    half of photo ``b``: first every pair split left/right (``b`` on the right), then
    every pair split top/bottom (``b`` at the bottom). A segmenter asked for two
    segments should follow the seam.

    Args:
        names: scikit-image sample names (see :func:`captum_nas.images.sample_image`).
        image_size: image side.

    Returns:
        ``(images, seams)``: images (2 P, 3, S, S) in [0, 1], P = ``len(names) *
        (len(names) - 1)``, and the seam masks (2 P, S, S), long, 1 on ``b``'s half.

    Example:
        >>> images, seams = seam_composites(("chelsea", "coffee"), image_size=32)
        >>> images.shape, seams[0, 0].tolist()[14:18], seams[2, :, 0].tolist()[14:18]
        (torch.Size([4, 3, 32, 32]), [0, 0, 1, 1], [0, 0, 1, 1])
    """
    from captum_nas.images import sample_image

    size = check_positive_int(image_size, "image_size")
    half = size // 2
    pairs = list(itertools.permutations(names, 2))
    images = []
    for rows in (False, True):
        for a, b in pairs:
            img = sample_image(a, size).clone()
            other = sample_image(b, size)
            if rows:
                img[:, half:] = other[:, half:]
            else:
                img[:, :, half:] = other[:, :, half:]
            images.append(img)
    seam = torch.zeros(size, size, dtype=torch.long)
    seam[:, half:] = 1
    return torch.stack(images), torch.stack([seam] * len(pairs) + [seam.T] * len(pairs))
