"""Evaluation data: batches of images with their ground truth, from flowers or a folder.

An :class:`EvalBatch` carries what the metrics need: normalised images, labels,
object boxes (several per image allowed), and when known the object masks and the
masks of the class-deciding parts.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from captum_nas._validation import check_positive_int
from captum_nas.images import Normalizer, load_image

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp")


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
    image_size: int = 128,
    seed: int = 0,
    normalizer: Normalizer | None = None,
) -> Iterator[EvalBatch]:
    """Test-split synthetic flowers as :class:`EvalBatch` es.

    Args:
        variant: ``"single"`` or ``"double"``.
        n: number of images.
        batch_size: images per batch.
        image_size: image side in pixels.
        seed: data seed.
        normalizer: how the model expects its inputs (default: the flowers
            normaliser the reference model was trained with).

    Returns:
        An iterator of batches (the last one may be smaller).
    """
    from captum_nas.datasets import FLOWERS_NORMALIZER, render_flowers

    norm = normalizer or FLOWERS_NORMALIZER
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


def _read_boxes_csv(path: Path) -> dict[str, list[tuple[list[float], int]]]:
    """``filename,x0,y0,x1,y1[,label]`` rows (header required), several rows per file."""
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
            try:
                box = [float(row[k]) for k in ("x0", "y0", "x1", "y1")]
                label = int(row["label"]) if row.get("label") not in (None, "") else -1
            except ValueError as err:
                raise ValueError(f"boxes CSV {path}, line {line}: {err}") from err
            if box[2] <= box[0] or box[3] <= box[1]:
                raise ValueError(
                    f"boxes CSV {path}, line {line}: need x1 > x0 and y1 > y0, got {box}"
                )
            out.setdefault(Path(row["filename"]).name, []).append((box, label))
    return out


class FolderData:
    """A user's images with ground truth, read from a folder.

    Layout: images in ``root`` (or ``root/images``); object masks, when present, in
    ``root/masks`` with the same file stem (non-zero pixels are the object; boxes are
    then the masks' extents); otherwise a ``boxes_csv`` with the header
    ``filename,x0,y0,x1,y1[,label]`` in the images' original pixel coordinates.
    Images are resized to ``size`` x ``size`` (boxes and masks follow).

    Args:
        root: the folder.
        normalizer: turns [0, 1] images into model inputs.
        size: side of the resized images.
        boxes_csv: path of the boxes CSV (default: ``root/boxes.csv`` if it exists).
        labels: optional class id per file name (overrides CSV labels).

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
    ) -> None:
        self.root = Path(root)
        if not self.root.is_dir():
            raise FileNotFoundError(f"data folder not found: {self.root}")
        image_dir = self.root / "images" if (self.root / "images").is_dir() else self.root
        self.files = sorted(p for p in image_dir.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
        if not self.files:
            raise ValueError(f"no images ({', '.join(IMAGE_SUFFIXES)}) in {image_dir}")
        self.mask_dir = self.root / "masks" if (self.root / "masks").is_dir() else None
        csv_path = Path(boxes_csv) if boxes_csv is not None else self.root / "boxes.csv"
        if boxes_csv is not None and not csv_path.is_file():
            raise FileNotFoundError(f"boxes CSV not found: {csv_path}")
        self.boxes = _read_boxes_csv(csv_path) if csv_path.is_file() else {}
        if self.mask_dir is None and not self.boxes:
            raise ValueError(
                f"{self.root} has neither a masks/ folder nor a boxes CSV: the metrics "
                "need ground truth"
            )
        self.normalizer = normalizer
        self.size = check_positive_int(size, "size")
        self.labels = labels or {}

    def __len__(self) -> int:
        return len(self.files)

    def _mask(self, stem: str) -> Tensor | None:
        if self.mask_dir is None:
            return None
        for suffix in IMAGE_SUFFIXES:
            path = self.mask_dir / f"{stem}{suffix}"
            if path.is_file():
                from skimage import io

                arr = np.asarray(io.imread(str(path)))
                if arr.ndim == 3:
                    arr = arr[..., :3].max(-1)
                mask = torch.from_numpy((arr > 0).astype(np.float32))[None, None]
                mask = torch.nn.functional.interpolate(mask, size=(self.size, self.size))
                return mask[0] > 0.5
        return None

    def _item(self, path: Path) -> tuple[Tensor, int, Tensor, Tensor | None]:
        from skimage import io

        raw = io.imread(str(path))
        h, w = raw.shape[:2]
        image = load_image(path, size=(self.size, self.size))
        mask = self._mask(path.stem)
        rows = self.boxes.get(path.name, [])
        label = self.labels.get(path.name, rows[0][1] if rows else -1)
        if rows:
            sx, sy = self.size / w, self.size / h
            boxes = (
                torch.tensor([[b[0] * sx, b[1] * sy, b[2] * sx, b[3] * sy] for b, _ in rows])
                .round()
                .long()
            )
            boxes[:, 0::2] = boxes[:, 0::2].clamp(0, self.size)
            boxes[:, 1::2] = boxes[:, 1::2].clamp(0, self.size)
        elif mask is not None and bool(mask.any()):
            ys, xs = torch.nonzero(mask[0], as_tuple=True)
            boxes = torch.tensor([[xs.min(), ys.min(), xs.max() + 1, ys.max() + 1]])
        else:
            raise ValueError(f"no ground truth (mask or box) for {path.name}")
        return image, label, boxes, mask

    def batches(self, batch_size: int = 16, *, n: int | None = None) -> Iterator[EvalBatch]:
        """The data as :class:`EvalBatch` es of ``batch_size`` images (first ``n`` files)."""
        batch_size = check_positive_int(batch_size, "batch_size")
        files: Sequence[Path] = self.files[:n] if n is not None else self.files
        for start in range(0, len(files), batch_size):
            chunk = files[start : start + batch_size]
            items = [self._item(p) for p in chunk]
            masks = [it[3] for it in items if it[3] is not None]
            yield EvalBatch(
                images=self.normalizer(torch.stack([it[0] for it in items])),
                labels=torch.tensor([it[1] for it in items]),
                boxes=[it[2] for it in items],
                object_masks=torch.stack(masks) if len(masks) == len(items) else None,
                names=[p.name for p in chunk],
            )
