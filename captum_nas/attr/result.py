"""The result of one explanation: pooled map, pixel map, segments and scores together.

``attribute(..., return_result=True)`` on any NAS* class (or on
:class:`~captum_nas.attr.SuperpixelAttribution`) returns an :class:`AttributionResult`,
so nothing has to be run twice to get the unpooled map, the segments or the
per-segment scores, and one line gives a figure, an overlay or files on disk.

Example:
    >>> res = NASIntegratedGradients(model).attribute(x, target=3, return_result=True)
    >>> res.scores.shape                   # (N, K): one score per segment id
    >>> mask = res.top_k(5).mask           # (N, 1, H, W): the 5 best segments
    >>> fig = res.plot()                   # numbered segments, pixel and pooled maps
    >>> paths = res.save("out/explanation")  # .png + .npz + .json
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from torch import Tensor

from captum_nas._validation import check_number, check_positive_int, describe

#: what a score means, per pooling mode (written into the JSON of :meth:`AttributionResult.save`)
SCORE_MEANINGS = {
    "magnitude": "mean over the segment's pixels of |sum over channels of the attribution|",
    "contribution": "sum over the segment's pixels of the signed channel-summed attribution "
    "(the scores of an image add up to the unpooled map's total)",
    "custom": "segment_pool with the wrapper's reduce/channel_reduce, averaged over channels",
    None: "the segment-level method's signed value of the segment (segments are its features)",
}


class TopSegments(NamedTuple):
    """Result of :meth:`AttributionResult.top_k`.

    Attributes:
        mask: bool tensor (N, 1, H, W), True on the selected segments.
        ids: one list of segment ids per image, best first.
    """

    mask: Tensor
    ids: list[list[int]]


def _anchor_points(segments: Tensor, ids: list[int]) -> list[tuple[float, float]]:
    """For each id, the (x, y) of the segment's pixel nearest its centroid (inside it)."""
    points = []
    for i in ids:
        ys, xs = torch.nonzero(segments == i, as_tuple=True)
        cy, cx = ys.double().mean(), xs.double().mean()
        j = int(torch.argmin((ys - cy) ** 2 + (xs - cx) ** 2))
        points.append((float(xs[j]), float(ys[j])))
    return points


def _number_segments(ax: Axes, segments: Tensor, ids: list[int]) -> None:
    """Write every id on its segment (white on black, readable on any map)."""
    for sid, (px, py) in zip(ids, _anchor_points(segments, ids), strict=True):
        ax.text(
            px,
            py,
            str(sid),
            color="white",
            fontsize=8,
            fontweight="bold",
            ha="center",
            va="center",
            bbox={"boxstyle": "round,pad=0.15", "facecolor": "black", "alpha": 0.6, "lw": 0},
        )


@dataclass(frozen=True, repr=False)
class AttributionResult:
    """Everything one ``attribute(..., return_result=True)`` call computed.

    Attributes:
        map: the returned (pooled) map (N, C, H, W), as ``attribute`` returns it.
        pixel_map: the unpooled map of the wrapped Captum method at the input size
            (N, C, H, W) (layer maps upsampled, then repeated over the channels), from
            the same call and through the same checks (target range, model state).
        segments: the segment ids (N, 1, H, W).
        scores: per-segment scores (N, K), column k = segment id k; NaN where an image
            has no segment k. Their meaning depends on :attr:`pooling` (see
            :data:`SCORE_MEANINGS`).
        target: the class per image (N,) as a long tensor, ``None`` without a target,
            or Captum's target as given when it is not one class per image (tuples).
        delta: the convergence delta of :attr:`map` when it was asked for, else ``None``.
        inputs: the (detached) inputs (N, C, H, W).
        pooling: ``"magnitude"``, ``"contribution"``, ``"custom"``, or ``None`` for a
            segment-level method (its scores are its signed per-segment values).
        method: the name of the wrapped Captum class.
    """

    map: Tensor
    pixel_map: Tensor
    segments: Tensor
    scores: Tensor
    target: Any
    delta: Tensor | None
    inputs: Tensor
    pooling: str | None
    method: str

    def __repr__(self) -> str:
        target = self.target.tolist() if isinstance(self.target, Tensor) else self.target
        return (
            f"AttributionResult(method={self.method!r}, pooling={self.pooling!r}, "
            f"map={tuple(self.map.shape)}, scores={tuple(self.scores.shape)}, target={target}"
            f"{', delta' if self.delta is not None else ''})"
        )

    @property
    def segment_ids(self) -> Tensor:
        """Segment id of every column of :attr:`scores` (N, K), -1 where absent."""
        n, k = self.scores.shape
        ids = torch.arange(k, device=self.scores.device).expand(n, k)
        return torch.where(torch.isnan(self.scores), torch.full_like(ids, -1), ids)

    def _index(self, index: int) -> int:
        n = self.map.shape[0]
        if isinstance(index, bool) or not isinstance(index, int) or not -n <= index < n:
            raise ValueError(f"`index` must be an image index in [0, {n}), got {describe(index)}")
        return index % n

    def _ranking_scores(self, positive_only: bool) -> Tensor:
        """Scores to rank by: positive ones only (others NaN), or magnitudes."""
        s = self.scores.detach().float()
        if positive_only:
            return torch.where(s > 0, s, torch.full_like(s, float("nan")))
        return s.abs()

    def top_k(self, k: int = 5, *, positive_only: bool = True) -> TopSegments:
        """The ``k`` best segments of every image, like LIME's ``get_image_and_mask``.

        Args:
            k: number of segments (>= 1); an image with fewer eligible segments gives
                all of them.
            positive_only: rank only segments with a positive score (LIME's default);
                ``False`` ranks all segments by the magnitude of their score.

        Returns:
            :class:`TopSegments` ``(mask, ids)``.

        Example:
            >>> mask, ids = res.top_k(3)
            >>> show_segments(image, mask)   # the LIME-style picture
        """
        from captum_nas.visualization import top_k_ids

        k = check_positive_int(k, "k")
        if not isinstance(positive_only, bool):
            raise TypeError(f"`positive_only` must be a bool, got {describe(positive_only)}")
        ranked = self._ranking_scores(positive_only)
        ids = top_k_ids(ranked, k)
        selected = torch.zeros(ranked.shape, dtype=torch.bool, device=self.segments.device)
        for i, row in enumerate(ids):
            selected[i, row] = True
        seg = self.segments
        mask = torch.gather(selected, 1, seg.flatten(1)).view(seg.shape)
        return TopSegments(mask, ids)

    def _display_image(self, index: int, image: Any) -> Tensor:
        """The image in [0, 1] as (C, H, W): the given one, or the input min-max scaled."""
        h, w = self.map.shape[-2:]
        if image is None:
            x = self.inputs[index].float().cpu()
            lo, hi = x.min(), x.max()
            return (x - lo) / (hi - lo) if float(hi - lo) > 0 else torch.zeros_like(x)
        t = torch.as_tensor(np.asarray(image) if not isinstance(image, Tensor) else image)
        t = t.detach().float().cpu()
        if t.dim() == 4 and t.shape[0] == 1:
            t = t[0]
        if t.dim() == 3 and t.shape[-1] in (1, 3) and t.shape[0] not in (1, 3):
            t = t.permute(2, 0, 1)  # (H, W, C) array
        if t.dim() == 2:
            t = t[None]
        if t.dim() != 3 or t.shape[-2:] != (h, w):
            raise ValueError(
                f"`image` must be one image (C, H, W) or (H, W, C) of size {(h, w)} in [0, 1], "
                f"got {describe(image) if isinstance(image, Tensor) else tuple(t.shape)}"
            )
        return t.clamp(0.0, 1.0)

    def overlay(
        self,
        index: int = 0,
        *,
        cmap: str | None = None,
        image: Any = None,
        alpha: float = 0.5,
        pixel: bool = False,
    ) -> np.ndarray[Any, Any]:
        """The map blended over the image, like pytorch-grad-cam's ``show_cam_on_image``.

        Args:
            index: which image of the batch.
            cmap: matplotlib colour map (default ``"jet"``; ``"bwr"`` for signed maps,
                centred on 0).
            image: the image in [0, 1] ((C, H, W) tensor or (H, W, C) array); default:
                the input min-max scaled (inputs are usually normalised).
            alpha: weight of the heat map (0: the image only, 1: the heat map only).
            pixel: overlay the unpooled :attr:`pixel_map` instead of :attr:`map`.

        Returns:
            float32 array (H, W, 3) in [0, 1]; show it with ``plt.imshow`` or save it.
        """
        from matplotlib import colormaps

        i = self._index(index)
        alpha = check_number(alpha, "alpha", minimum=0.0, maximum=1.0)
        img = self._display_image(i, image)
        if img.shape[0] == 1:
            img = img.expand(3, -1, -1)
        values = (self.pixel_map if pixel else self.map)[i].detach().float().cpu().mean(0)
        signed = bool((values < 0).any())
        scale = float(values.abs().max())
        scale = scale if scale > 0 else 1.0
        heat = (values / scale + 1) / 2 if signed else values / scale
        colours = colormaps[cmap or ("bwr" if signed else "jet")](heat.numpy())[..., :3]
        base = img[:3].permute(1, 2, 0).numpy()
        return ((1 - alpha) * base + alpha * colours).astype(np.float32)

    def plot(
        self,
        index: int = 0,
        *,
        image: Any = None,
        k: int = 5,
        positive_only: bool = True,
        title: str | None = None,
        panel_size: float = 3.0,
        dpi: int = 80,
    ) -> Figure:
        """Figure: image with boundaries, pixel map, pooled map, top-``k`` segments.

        The heat maps are drawn by ``captum.attr.visualization.visualize_image_attr``;
        the top-``k`` segments carry their ids (the columns of :attr:`scores` and the
        ids in the JSON of :meth:`save`) on the image, the pooled map and the top-k
        panel, best first in the panel title.

        Args:
            index: which image of the batch.
            image: the image in [0, 1] (default: the input min-max scaled).
            k: segments to number and show.
            positive_only: as in :meth:`top_k`.
            title: figure title (default: method, pooling and target).
            panel_size: inches per panel.
            dpi: figure resolution.

        Returns:
            A ``matplotlib.figure.Figure`` (save it with ``fig.savefig(path)``).
        """
        from captum_nas.visualization import explanation_figure

        i = self._index(index)
        top = self.top_k(k, positive_only=positive_only)
        ids = top.ids[i]
        img = self._display_image(i, image)
        sign = "absolute_value" if self.pooling == "magnitude" else "all"
        ranked = self._ranking_scores(positive_only)[i]
        if title is None:
            target = self._target_of(i)
            title = f"{self.method}, pooling={self.pooling}" + (
                f", target {target}" if target is not None else ""
            )
        fig = explanation_figure(
            img,
            self.pixel_map[i : i + 1].detach(),
            self.map[i : i + 1].detach(),
            self.segments[i : i + 1],
            top_k=max(len(ids), 1),
            scores=ranked,
            title=title,
            sign=sign,
            panel_size=panel_size,
            dpi=dpi,
            labels={"top_k": "top segments: " + ", ".join(str(s) for s in ids)},
        )
        seg = self.segments[i, 0].cpu()
        for ax in fig.axes:
            if ax.get_title() and ax.get_title() != "pixel attribution":
                _number_segments(ax, seg, ids)
        return fig

    def _target_of(self, index: int) -> Any:
        if isinstance(self.target, Tensor):
            return int(self.target[index])
        return self.target

    def to_dict(self) -> dict[str, Any]:
        """JSON-able summary: method, pooling, what a score means, and per image the
        target, the segments' ids, scores and pixel counts, the top-5 and the delta."""
        images = []
        counts = torch.zeros(self.scores.shape, dtype=torch.long)
        seg = self.segments.cpu()
        for i in range(seg.shape[0]):
            counts[i] = torch.bincount(seg[i].flatten(), minlength=self.scores.shape[1])[
                : self.scores.shape[1]
            ]
        top = self.top_k(5).ids
        for i in range(self.scores.shape[0]):
            row = self.scores[i].detach().double().cpu()
            segments = [
                {"id": k, "score": float(row[k]), "pixels": int(counts[i, k])}
                for k in range(row.shape[0])
                if not bool(torch.isnan(row[k]))
            ]
            entry: dict[str, Any] = {
                "index": i,
                "target": self._target_of(i),
                "segments": segments,
                "top_5": top[i],
            }
            if self.delta is not None:
                entry["delta"] = self.delta.reshape(self.scores.shape[0], -1)[i].tolist()
            images.append(entry)
        return {
            "method": self.method,
            "pooling": self.pooling,
            "score_meaning": SCORE_MEANINGS.get(self.pooling, ""),
            "shape": list(self.map.shape),
            "images": images,
        }

    def save(self, path: str | Path, *, k: int = 5, dpi: int = 80) -> list[Path]:
        """Write the figure(s), the arrays and the JSON summary.

        Files: ``<stem>.npz`` (``map``, ``pixel_map``, ``segments``, ``scores``,
        ``segment_ids``, and ``target``/``delta`` where present), ``<stem>.json``
        (:meth:`to_dict`) and one figure per image, ``<stem>.png`` for one image or
        ``<stem>_<i>.png`` for a batch (the segments' ids drawn on it are those of
        the JSON and the ``scores`` columns).

        Args:
            path: the file stem (a suffix such as ``.png`` is dropped); parent folders
                are created.
            k: segments numbered in the figures.
            dpi: figure resolution.

        Returns:
            The paths written.
        """
        if not isinstance(path, (str, Path)):
            raise TypeError(f"`path` must be a str or Path, got {describe(path)}")
        stem = Path(path)
        stem = stem.with_suffix("") if stem.suffix in (".png", ".npz", ".json") else stem
        stem.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, np.ndarray[Any, Any]] = {
            "map": self.map.detach().cpu().numpy(),
            "pixel_map": self.pixel_map.detach().cpu().numpy(),
            "segments": self.segments.cpu().numpy(),
            "scores": self.scores.detach().cpu().numpy(),
            "segment_ids": self.segment_ids.cpu().numpy(),
        }
        if isinstance(self.target, Tensor):
            arrays["target"] = self.target.cpu().numpy()
        if self.delta is not None:
            arrays["delta"] = self.delta.detach().cpu().numpy()
        written = [stem.with_name(stem.name + ".npz"), stem.with_name(stem.name + ".json")]
        np.savez_compressed(written[0], **arrays)  # type: ignore[arg-type]
        written[1].write_text(json.dumps(self.to_dict(), indent=1))
        n = self.map.shape[0]
        for i in range(n):
            name = stem.name + (".png" if n == 1 else f"_{i}.png")
            fig = self.plot(i, k=k, dpi=dpi)
            fig.savefig(stem.with_name(name))
            written.append(stem.with_name(name))
        return written
