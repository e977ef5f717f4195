"""Evaluation data: batches of images with their ground truth, from flowers or a folder.

An :class:`EvalBatch` carries what the metrics need: normalised images, labels,
object boxes (several per image allowed), and when known the object masks and the
masks of the class-deciding parts.

Image files become square model inputs by :func:`prepare_image`, the one
preprocessing that ``captum-nas explain`` and ``captum-nas evaluate`` share:
``"crop"`` (default) scales the shorter side to the target side and cuts the centre
square; ``"stretch"`` scales both sides. Boxes and masks follow the same geometry.
"""

from __future__ import annotations

import csv
import math
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from captum_nas._types import IMAGE_SUFFIXES
from captum_nas._validation import check_positive_int
from captum_nas.images import Normalizer, load_image, read_image_array, resize_image

RESIZE_MODES = ("crop", "stretch")


def find_images(
    folder: str | Path, *, recursive: bool = False, exclude: Sequence[Path] = ()
) -> list[Path]:
    """Files with an image suffix in ``folder`` (and its subfolders when ``recursive``),
    sorted; folders in ``exclude`` are not searched."""
    root = Path(folder)
    pattern = root.rglob("*") if recursive else root.iterdir()
    skip = [Path(e).resolve() for e in exclude]
    found = []
    for p in pattern:
        if not p.is_file() or p.suffix.lower() not in IMAGE_SUFFIXES:
            continue
        if any(d in p.resolve().parents for d in skip):
            continue
        found.append(p)
    return sorted(found)


def resize_geometry(height: int, width: int, size: int, resize: str) -> tuple[int, int, int, int]:
    """Where a (height, width) image goes: ``(scaled_h, scaled_w, top, left)``; the
    result is the ``size`` x ``size`` window at (top, left) of the scaled image.

    ``"crop"`` is torchvision's ``resize(size)`` (shorter side to ``size``, the longer
    one truncated) followed by ``center_crop(size)``, the ImageNet evaluation transform.
    """
    if resize == "stretch":
        return size, size, 0, 0
    if resize != "crop":
        raise ValueError(f"`resize` must be one of {RESIZE_MODES}, got {resize!r}")
    short, long = min(height, width), max(height, width)
    new_long = int(size * long / short)
    nh, nw = (new_long, size) if height > width else (size, new_long)
    return nh, nw, round((nh - size) / 2.0), round((nw - size) / 2.0)


def prepare_image(image: Tensor, size: int, resize: str = "crop") -> Tensor:
    """A (3, H, W) image in [0, 1] as the (3, size, size) model input, by ``resize``:
    ``"crop"`` (shorter side to ``size``, centre square; no distortion) or
    ``"stretch"`` (both sides to ``size``; the whole image, aspect ratio changed).
    Both commands (``explain``, ``evaluate``) and :class:`FolderData` use it; boxes and
    masks follow the same :func:`resize_geometry`.

    Example:
        >>> prepare_image(torch.rand(3, 30, 50), 16).shape
        torch.Size([3, 16, 16])
    """
    size = check_positive_int(size, "size")
    nh, nw, top, left = resize_geometry(image.shape[-2], image.shape[-1], size, resize)
    scaled = resize_image(image, (nh, nw))
    return scaled[..., top : top + size, left : left + size].contiguous()


@dataclass
class EvalBatch:
    """A batch of images with ground truth.

    Attributes:
        images: (N, C, H, W) inputs as the model expects them (normalised).
        labels: (N,) class ids, -1 where unknown.
        boxes: list of N tensors (B_i, 4) of (x0, y0, x1, y1) boxes, ends exclusive.
        object_masks: (N, 1, H, W) bool, or None.
        part_masks: (N, 1, H, W) bool masks of the class-deciding parts, or None.
        names: one identifier per image.
    """

    images: Tensor
    labels: Tensor
    boxes: list[Tensor]
    object_masks: Tensor | None = None
    part_masks: Tensor | None = None
    names: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.images.shape[0])

    def to(self, device: torch.device | str) -> EvalBatch:
        """The same batch with every tensor on ``device``."""

        def move(t: Tensor | None) -> Tensor | None:
            return None if t is None else t.to(device)

        return EvalBatch(
            images=self.images.to(device),
            labels=self.labels.to(device),
            boxes=[b.to(device) for b in self.boxes],
            object_masks=move(self.object_masks),
            part_masks=move(self.part_masks),
            names=list(self.names),
        )


def flowers_batches(
    variant: str = "single",
    *,
    n: int = 200,
    batch_size: int = 16,
    image_size: int | None = None,
    seed: int = 0,
    normalizer: Normalizer | None = None,
) -> Iterator[EvalBatch]:
    """Test-split synthetic flowers as :class:`EvalBatch` es.

    Args:
        variant: ``"single"`` or ``"double"``.
        n: number of images.
        batch_size: images per batch.
        image_size: image side in pixels (default 128, the reference models' size).
        seed: data seed.
        normalizer: how the model expects its inputs (default: the flowers
            normaliser the reference model was trained with).

    Returns:
        An iterator of batches (the last one may be smaller).
    """
    from captum_nas.datasets import FLOWERS_NORMALIZER, render_flowers

    norm = normalizer or FLOWERS_NORMALIZER
    image_size = 128 if image_size is None else image_size
    n = check_positive_int(n, "n")
    batch_size = check_positive_int(batch_size, "batch_size")
    for start in range(0, n, batch_size):
        idx = list(range(start, min(n, start + batch_size)))
        fb = render_flowers(
            idx, variant=variant, split="test", image_size=image_size, seed=seed, normalize=False
        )
        yield EvalBatch(
            images=norm(fb.images),
            labels=fb.labels,
            boxes=[b.reshape(1, 4) for b in fb.boxes],
            object_masks=fb.object_masks,
            part_masks=fb.part_masks,
            names=[f"flowers-{variant}-{int(i)}" for i in fb.indices],
        )


def _csv_number(path: Path, line: int, column: str, text: str | None) -> float:
    """One coordinate of a boxes CSV: a finite number."""
    try:
        value = float(text if text is not None else "")
    except ValueError:
        raise ValueError(
            f"boxes CSV {path}, line {line}: column {column} must be a number, got {text!r}"
        ) from None
    if not math.isfinite(value):
        raise ValueError(
            f"boxes CSV {path}, line {line}: column {column} must be a finite number, got {text!r}"
        )
    return value


def _csv_label(path: Path, line: int, text: str | None, n_classes: int | None) -> int:
    """The label of a boxes CSV row: -1 when empty, else a class index in range."""
    if text is None or not text.strip():
        return -1
    where = f"boxes CSV {path}, line {line}: label"
    if not re.fullmatch(r"[0-9]+", text.strip()):
        raise ValueError(f"{where} must be a class index (digits 0-9) or empty, got {text!r}")
    label = int(text)
    if n_classes is not None and label >= n_classes:
        raise ValueError(
            f"{where} {label} is out of range: the model has {n_classes} classes "
            f"(labels 0..{n_classes - 1})"
        )
    return label


def _read_boxes_csv(
    path: Path, n_classes: int | None = None
) -> dict[str, list[tuple[list[float], int]]]:
    """``filename,x0,y0,x1,y1[,label]`` rows (header required), several rows per file.

    Every value is checked, with the file, line and value in the message: coordinates
    are finite numbers (NaN and Inf are refused), ``x1 > x0``, ``y1 > y0``, none
    negative; a label is empty or a class index below ``n_classes`` (when known).
    """
    out: dict[str, list[tuple[list[float], int]]] = {}
    with path.open(newline="") as fh:
        reader = csv.DictReader(fh)
        needed = {"filename", "x0", "y0", "x1", "y1"}
        if reader.fieldnames is None or not needed <= set(reader.fieldnames):
            raise ValueError(
                f"boxes CSV {path} must have the header columns {sorted(needed)} "
                f"(optional: label), got {reader.fieldnames}"
            )
        for line, row in enumerate(reader, start=2):
            box = [_csv_number(path, line, k, row[k]) for k in ("x0", "y0", "x1", "y1")]
            label = _csv_label(path, line, row.get("label"), n_classes)
            if box[2] <= box[0] or box[3] <= box[1]:
                raise ValueError(
                    f"boxes CSV {path}, line {line}: need x1 > x0 and y1 > y0, got {box}"
                )
            if min(box) < 0:
                raise ValueError(f"boxes CSV {path}, line {line}: negative coordinate in {box}")
            name = (row["filename"] or "").strip().replace("\\", "/")
            previous = out.get(name)
            if previous and previous[0][1] != label:
                raise ValueError(
                    f"boxes CSV {path}, line {line}: {name} has label {label} here and "
                    f"{previous[0][1]} on an earlier line"
                )
            out.setdefault(name, []).append((box, label))
    return out


#: the folder layout :class:`FolderData` reads (shown by ``captum-nas evaluate --help``)
FOLDER_LAYOUT = """\
ROOT/                  (or ROOT/images/) the images: .png .jpg .jpeg .bmp .tif .tiff .webp .gif
ROOT/masks/NAME.png    optional object mask per image, same stem (non-zero = object);
                       boxes are then the masks' extents
ROOT/boxes.csv         otherwise (or as well): one row per box, header
                         filename,x0,y0,x1,y1[,label]
                       pixel coordinates of the original image, ends exclusive; label =
                       class index (several rows per file for several boxes)"""


class FolderData:
    """A user's images with ground truth, read from a folder.

    Layout (:data:`FOLDER_LAYOUT`): images in ``root`` (or ``root/images``); object
    masks, when present, in ``root/masks`` with the same file stem (non-zero pixels
    are the object; boxes are then the masks' extents); otherwise a ``boxes_csv`` with
    the header ``filename,x0,y0,x1,y1[,label]`` in the images' original pixel
    coordinates. Images become ``size`` x ``size`` inputs by :func:`prepare_image`
    (boxes and masks follow the same crop or stretch).

    Args:
        root: the folder.
        normalizer: turns [0, 1] images into model inputs.
        size: side of the model inputs.
        boxes_csv: path of the boxes CSV (default: ``root/boxes.csv`` if it exists).
        labels: optional class id per file name (overrides CSV labels).
        resize: ``"crop"`` (default) or ``"stretch"``, see :func:`prepare_image`.
        recursive: also read images in subfolders (names are then relative paths).
        n_classes: the model's number of classes: a label of the CSV (or of ``labels``)
            outside ``0..n_classes - 1`` raises (default: not checked).
        on_error: ``"skip"`` (default) reports unreadable images and images without
            ground truth in :attr:`skipped` and leaves them out; ``"fail"`` raises.

    Attributes:
        skipped: ``(name, reason)`` of every image left out so far.

    Raises:
        FileNotFoundError: no such folder or boxes CSV.
        ValueError: no images, no ground truth at all, a malformed boxes CSV, or one
            naming files that are not in the folder.

    Example:
        >>> data = FolderData("my_images", IMAGENET_NORMALIZER, size=224)
        >>> next(data.batches(8)).images.shape
        torch.Size([8, 3, 224, 224])
    """

    def __init__(
        self,
        root: str | Path,
        normalizer: Normalizer,
        *,
        size: int = 224,
        boxes_csv: str | Path | None = None,
        labels: dict[str, int] | None = None,
        resize: str = "crop",
        recursive: bool = False,
        on_error: str = "skip",
        n_classes: int | None = None,
    ) -> None:
        from captum_nas._validation import check_choice

        self.resize = check_choice(resize, "resize", RESIZE_MODES)
        self.on_error = check_choice(on_error, "on_error", ("skip", "fail"))
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"data folder not found: {self.root}")
        self.image_dir = self.root / "images" if (self.root / "images").is_dir() else self.root
        self.mask_dir = self.root / "masks" if (self.root / "masks").is_dir() else None
        exclude = [self.mask_dir] if self.mask_dir is not None else []
        self.files = find_images(self.image_dir, recursive=recursive, exclude=exclude)
        if not self.files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {self.image_dir}")
        csv_path = Path(boxes_csv) if boxes_csv is not None else self.root / "boxes.csv"
        if boxes_csv is not None and not csv_path.is_file():
            raise FileNotFoundError(f"boxes CSV not found: {csv_path}")
        if n_classes is not None:
            n_classes = check_positive_int(n_classes, "n_classes")
        self.boxes = _read_boxes_csv(csv_path, n_classes) if csv_path.is_file() else {}
        if self.mask_dir is None and not self.boxes:
            raise ValueError(
                f"{self.root} has neither a masks/ folder nor a boxes CSV: the metrics "
                "need ground truth"
            )
        names = {self.name(p) for p in self.files} | {p.name for p in self.files}
        unknown = sorted(k for k in self.boxes if k not in names)
        if unknown:
            raise ValueError(
                f"boxes CSV {csv_path} names {len(unknown)} file(s) that are not images in "
                f"{self.image_dir}: {', '.join(unknown[:5])}{' ...' if len(unknown) > 5 else ''}"
            )
        self.normalizer = normalizer
        self.size = check_positive_int(size, "size")
        self.labels = labels or {}
        for key, value in self.labels.items():
            if n_classes is not None and not 0 <= value < n_classes:
                raise ValueError(
                    f"`labels`: {key} has label {value}, outside 0..{n_classes - 1} "
                    f"({n_classes} classes)"
                )
        self.skipped: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self.files)

    def name(self, path: Path) -> str:
        """The image's name: its path relative to the image folder, with ``/``."""
        return path.relative_to(self.image_dir).as_posix()

    def _rows(self, path: Path) -> list[tuple[list[float], int]]:
        return self.boxes.get(self.name(path), self.boxes.get(path.name, []))

    def label(self, path: Path) -> int:
        """The class id of an image (-1 when unknown)."""
        rows = self._rows(path)
        return self.labels.get(
            self.name(path), self.labels.get(path.name, rows[0][1] if rows else -1)
        )

    @property
    def max_label(self) -> int:
        """The largest class id in the labels (-1 when unlabelled)."""
        return max((self.label(p) for p in self.files), default=-1)

    def _mask(self, path: Path, geometry: tuple[int, int, int, int]) -> Tensor | None:
        if self.mask_dir is None:
            return None
        rel = path.relative_to(self.image_dir).with_suffix("")
        for suffix in IMAGE_SUFFIXES:
            mask_path = self.mask_dir / f"{rel.as_posix()}{suffix}"
            if mask_path.is_file():
                try:
                    arr = read_image_array(mask_path)
                except ValueError as err:
                    raise ValueError(f"mask: {err}") from err
                if arr.ndim == 3:
                    arr = arr[..., :3].max(-1)
                mask = torch.from_numpy((arr > 0).astype(np.float32))[None, None]
                nh, nw, top, left = geometry
                mask = torch.nn.functional.interpolate(mask, size=(nh, nw))
                mask = mask[..., top : top + self.size, left : left + self.size]
                return mask[0] > 0.5
        return None

    def _item(self, path: Path) -> tuple[Tensor, int, Tensor, Tensor | None]:
        raw = load_image(path, size=None)
        h, w = raw.shape[-2:]
        geometry = resize_geometry(h, w, self.size, self.resize)
        nh, nw, top, left = geometry
        image = prepare_image(raw, self.size, self.resize)
        mask = self._mask(path, geometry)
        rows = self._rows(path)
        label = self.label(path)
        if rows:
            sx, sy = nw / w, nh / h
            boxes = (
                torch.tensor(
                    [
                        [b[0] * sx - left, b[1] * sy - top, b[2] * sx - left, b[3] * sy - top]
                        for b, _ in rows
                    ]
                )
                .round()
                .long()
            )
            boxes[:, 0::2] = boxes[:, 0::2].clamp(0, self.size)
            boxes[:, 1::2] = boxes[:, 1::2].clamp(0, self.size)
            boxes = boxes[(boxes[:, 2] > boxes[:, 0]) & (boxes[:, 3] > boxes[:, 1])]
            if boxes.shape[0] == 0:
                raise ValueError(
                    f"the boxes of {self.name(path)} lie outside the centre crop; use "
                    "resize='stretch' (--resize stretch)"
                )
        elif mask is not None and bool(mask.any()):
            ys, xs = torch.nonzero(mask[0], as_tuple=True)
            boxes = torch.tensor([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])
        else:
            raise ValueError(f"no ground truth (mask or box) for {self.name(path)}")
        return image, label, boxes, mask

    def batches(self, batch_size: int = 16, *, n: int | None = None) -> Iterator[EvalBatch]:
        """The data as :class:`EvalBatch` es of ``batch_size`` images (first ``n`` files).

        Unreadable images and images without ground truth are left out and listed in
        :attr:`skipped` (``on_error="skip"``), or raise ``ValueError`` (``"fail"``).
        """
        batch_size = check_positive_int(batch_size, "batch_size")
        files: Sequence[Path] = self.files[:n] if n is not None else self.files
        items: list[tuple[Tensor, int, Tensor, Tensor | None]] = []
        names: list[str] = []
        for k, path in enumerate(files):
            try:
                items.append(self._item(path))
                names.append(self.name(path))
            except (ValueError, OSError) as err:
                if self.on_error == "fail":
                    raise
                reason = (str(err).splitlines() or [type(err).__name__])[0]
                self.skipped.append((self.name(path), reason))
            if items and (len(items) == batch_size or k == len(files) - 1):
                masks = [it[3] for it in items if it[3] is not None]
                yield EvalBatch(
                    images=self.normalizer(torch.stack([it[0] for it in items])),
                    labels=torch.tensor([it[1] for it in items]),
                    boxes=[it[2] for it in items],
                    object_masks=torch.stack(masks) if len(masks) == len(items) else None,
                    names=names,
                )
                items, names = [], []
