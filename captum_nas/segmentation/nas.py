"""NAS: Neuro-Activated Superpixels.

Segments found by clustering a classifier's own activations taken at several depths
(Boubekki, Fadel, Mair, "Leveraging Activations for Superpixel Explanations", 2024),
with no training. One no-grad forward with hooks on the chosen layers; each depth is
normalised per pixel and reduced by PCA at its native resolution, upsampled to a
working grid, weighted and concatenated; all images of the batch are clustered at
once by k-means in torch; the labels are optionally made connected and brought to
the input size with smooth borders.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_nas._model_state import ActivationCapture, layer_name, preserved_model_state
from captum_nas._validation import (
    check_choice,
    check_image_batch,
    check_number,
    check_positive_int,
    check_seed,
)
from captum_nas.images import check_image_recovery
from captum_nas.segmentation.base import relabel_contiguous
from captum_nas.segmentation.connectivity import (
    connected_components,
    merge_small_segments,
    upsample_labels,
)
from captum_nas.segmentation.kmeans import batched_kmeans, check_tol, cluster_means, inertia
from captum_nas.segmentation.layers import auto_layers, resolve_layers
from captum_nas.segmentation.nonfinite import check_finite_activations, check_finite_features
from captum_nas.segmentation.pca import pca_reduce
from captum_nas.segmentation.refine import (
    cluster_distances,
    color_features,
    refine_labels,
)

NORMALIZATIONS = ("l2", "zscore", "none")
UPSAMPLE_MODES = ("bilinear", "nearest")
MODES = ("flat", "hierarchical", "slic-merge")
#: Largest ``color_weight``/``refine_color_weight`` and ``layer_weights`` ratio: beyond it
#: the term alone decides, and squared distances would overflow float32.
MAX_WEIGHT = 1e6

#: The options of the first release's defaults (geometric depth weights, no colour, no
#: refinement, 32 PCA dimensions, k-means to a fixed point seeded from every point):
#: ``NASSegmenter(model, **LEGACY_NAS_OPTIONS)`` gives its segments (up to float rounding
#: of the per-pixel normalisation, which moves about 0.2 % of the pixels).
LEGACY_NAS_OPTIONS: dict[str, object] = {
    "layer_weights": "geometric",
    "color_weight": 0.0,
    "refine": None,
    "grid_size": 56,
    "spatial_weight": 0.3,
    "pca_dims": 32,
    "tol": 0.0,
    "seed_points": None,
}


#: default ``memory_budget`` of :class:`NASSegmenter` (bytes)
DEFAULT_MEMORY_BUDGET = 2**30
#: working memory of a NAS call per input pixel (EfficientNet-Lite0, 64 x 448 px: 4.3 GiB)
_BYTES_PER_PIXEL = 360


@dataclass
class NASResult:
    """Everything a NAS segmentation computed, for analysis and plots.

    Attributes:
        segments: LongTensor (N, 1, H, W), contiguous ids per image (a Captum
            ``feature_mask``).
        grid_labels: LongTensor (N, h, w), labels on the working grid (after the
            optional connectivity step, before upsampling), contiguous per image.
        embedding: (N, D, h, w) per-pixel features that were clustered.
        centroids: (N, K, D) centres in ``embedding`` of the clusters (before the
            connectivity step): the k-means centres in flat mode, the mean embedding of
            each final cluster in hierarchical mode.
        inertia: (N,) sum of squared distances of the pixels to their centre.
        layers: names of the layers whose activations were used.
        levels: k-means labels (N, h, w) on the working grid before the connectivity
            step, one tensor per clustering level: one in flat mode; in hierarchical
            mode coarsest first (the deepest layer's clusters), each level refining
            the one before.
    """

    segments: Tensor
    grid_labels: Tensor
    embedding: Tensor
    centroids: Tensor
    inertia: Tensor
    layers: list[str]
    levels: list[Tensor] = field(default_factory=list)


def _concat_results(parts: list[NASResult]) -> NASResult:
    """One :class:`NASResult` from the results of consecutive chunks of a batch."""
    return NASResult(
        segments=torch.cat([r.segments for r in parts]),
        grid_labels=torch.cat([r.grid_labels for r in parts]),
        embedding=torch.cat([r.embedding for r in parts]),
        centroids=torch.cat([r.centroids for r in parts]),
        inertia=torch.cat([r.inertia for r in parts]),
        layers=parts[0].layers,
        levels=[torch.cat(level) for level in zip(*(r.levels for r in parts))],
    )


def _channel_norm(a: Tensor) -> Tensor:
    """Euclidean norm over the channels (N, 1, h, w): a sum of squares, several times
    faster than ``Tensor.norm(dim=1)`` on (N, C, h, w) on a CPU."""
    return torch.sum(a * a, 1, keepdim=True).sqrt_()


def _normalise(a: Tensor, how: str) -> Tensor:
    """Per-pixel l2 or per-channel z-score normalisation of finite activations.

    Both are scale-invariant, so when the squares overflow (activations beyond about
    1e19 in float32) the activations are first divided by their largest magnitude,
    instead of silently dividing by an infinite norm (which would give zeros)."""
    tiny = torch.finfo(a.dtype).tiny
    if how == "l2":
        norm = _channel_norm(a)
        if not bool(torch.isfinite(norm).all()):
            a = a / a.abs().amax(1, keepdim=True).clamp_min(tiny)
            norm = _channel_norm(a)
        return a / norm.clamp_min(1e-12)
    if how == "zscore":
        std = a.std((2, 3), keepdim=True, unbiased=False)
        if not bool(torch.isfinite(std).all()):
            a = a / a.abs().amax((2, 3), keepdim=True).clamp_min(tiny)
            std = a.std((2, 3), keepdim=True, unbiased=False)
        mean = a.mean((2, 3), keepdim=True)
        return (a - mean) / std.clamp_min(1e-12) / math.sqrt(a.shape[1])
    return a


def _cluster_means(points: Tensor, labels: Tensor, k: int) -> tuple[Tensor, Tensor]:
    """Mean of each cluster's points (N, K, D) (zeros for an empty one) and the inertia."""
    centroids, _ = cluster_means(points, labels, k)
    return centroids, inertia(points, centroids, labels)


class NASSegmenter:
    """Neuro-Activated Superpixels: segments from a classifier's multi-depth activations.

    Args:
        model: the classifier (an ``nn.Module`` taking the inputs as they are).
        layers: ``"auto"`` (stage outputs found by a probe forward, see
            :func:`~captum_nas.segmentation.layers.auto_layers`), or a sequence of
            submodules or dotted names.
        n_segments: number of k-means clusters K per image (before the optional
            connectivity step splits or merges them).
        seed: seed of the k-means++ seeding (an int in [0, 2**32 - 1]); the same
            seed gives the same segments, and an image gets the same segments alone or
            inside a batch, in every mode.
        grid_size: cap on the longer side of the working grid; the grid is the finest
            captured resolution, reduced to this cap (aspect ratio kept).
        normalize: per-depth normalisation: ``"l2"`` (unit vector per pixel),
            ``"zscore"`` (per-channel standardisation, scaled to unit mean energy)
            or ``"none"``.
        pca_dims: reduce each depth to this many principal components per image at
            its native resolution (``None`` keeps all channels); see
            :func:`~captum_nas.segmentation.pca.pca_reduce`. Default 16 (the first
            release used 32): with ``tol`` and ``seed_points`` it scores as well on
            ``benchmarks/scoreboard_nas.py`` at about a third of the clustering's cost.
        layer_weights: ``"equal"`` (the default: every depth weighs the same; chosen
            by ``benchmarks/scoreboard_nas.py``: it localises and isolates objects better
            on the flowers and the photo composites, and splits two different photos
            less cleanly than ``"geometric"``), ``"geometric"`` (each coarser layer
            weighs twice the finer one, the first release's default), a
            number ``r`` in [1e-6, 1e6] (geometric with ratio ``r``: each coarser layer weighs
            ``r`` times the finer one; 2 is ``"geometric"``, 1 ``"equal"``), or one
            non-negative weight per layer, in the order of ``layers`` (for
            ``layers="auto"``: finest first); normalised to sum to 1.
        spatial_weight: weight of appended (y, x) coordinates in [0, 1]; larger
            values give compact, grid-like segments, 0 disables.
        max_iter: maximum k-means iterations.
        tol: k-means stops for an image once at most this fraction of its grid points
            changes cluster in one Lloyd step, in [0, 1) (default 0.02; 0: at a fixed
            point, as the first release); see
            :func:`~captum_nas.segmentation.kmeans.batched_kmeans`. The last steps of a
            fixed point move a few border points each, which the full-resolution
            refinement decides again anyway.
        seed_points: the k-means++ seeding draws from at most this many grid points per
            image (an even stride; default 1024, a quarter of a 56 x 56 grid), ``None``
            from all (the first release); flat mode only.
        connectivity: split clusters into 4-connected components and merge pieces
            smaller than ``min_size`` into the neighbour sharing the longest border.
        min_size: minimum segment size as a fraction of the working grid (used with
            ``connectivity``); default ``0.25 / n_segments``.
        upsample: ``"bilinear"`` (smooth borders) or ``"nearest"``; how grid labels
            reach the input size when ``refine`` is ``None``.
        color_weight: weight of the image's colour (CIELAB, each channel / 100,
            averaged over each working-grid cell) appended to the embedding (default
            1.0, at most 1e6; chosen with ``refine=2`` and equal depth weights by
            ``benchmarks/scoreboard_nas.py``); 0 disables. The image is recovered from
            the inputs with ``to_image`` or ``mean``/``std``; without them every image
            is min-max rescaled to [0, 1].
        refine: ``None`` (grid labels are upsampled, see ``upsample``) or (default 1) a
            number of full-resolution refinement iterations: every input pixel picks,
            among the labels of its four bilinear source cells, the cluster nearest in the
            interpolated embedding plus ``refine_color_weight`` times its own colour
            (see :func:`~captum_nas.segmentation.refine.refine_labels`), so borders
            follow the image's edges at the input resolution. A second iteration (the
            previous default) moves few pixels and scores the same on the benchmarks.
        refine_color_weight: weight of the pixel colour in the refinement, in [0, 1e6]
            (default: ``color_weight``, or 0.5 when that is 0).
        to_image: callable mapping inputs to images in [0, 1] (for the colour term).
        mean: per-channel mean of the inputs' normalisation (with ``std``), instead of
            ``to_image``.
        std: per-channel std of the inputs' normalisation.
        mode: ``"flat"`` (one k-means on the concatenated depths) or
            ``"hierarchical"`` (the deepest depth is clustered first, then each of its
            clusters is refined with the next shallower depth, and so on; the number of
            clusters grows geometrically to ``n_segments`` over the depths, and a refined
            cluster never crosses its parent's border). ``layer_weights`` only applies to
            the flat mode. ``"slic-merge"``: the edge-accurate mode; ``superpixels``
            SLIC superpixels of the image are merged into ``n_segments`` regions by
            Ward clustering of their mean embedding (adjacent superpixels only), so
            borders are SLIC's (``connectivity`` and ``refine`` do not apply).
        superpixels: number of SLIC superpixels of the ``"slic-merge"`` mode.
        batch_size: forward the inputs in chunks of this many images (default: all).
        memory_budget: bytes of working memory a call may use (default 1 GiB, ``None``
            for no limit): larger batches are segmented in chunks (forward, features,
            clustering and labels), each image exactly as alone or inside a batch, so
            the segments do not depend on the chunking (the embedding and centroids only
            up to rounding: batched matrix products, the model's forward included, may
            round an image differently in another batch size). The estimate
            is about 360 bytes per input pixel, measured with EfficientNet-Lite0 (64
            images of 448 px took 4.3 GiB unchunked).
        progress: show a tqdm bar over chunks.

    Every option is checked here (a ``TypeError``/``ValueError`` naming it). A call
    raises ``ValueError`` naming the layer and the likely cause (a parameter or buffer
    holding NaN/Inf, or inputs on a scale the model's dtype overflows on) when the
    captured activations are not finite, instead of clustering NaN into one segment.

    Threads: a call holds the model's lock (see
    :func:`~captum_nas._model_state.preserved_model_state`) while it runs the model, so
    calls on one model from several threads, through one segmenter or several, run
    their forwards one at a time and each gets the segments of a single-threaded call;
    the model's modes, flags and hooks are restored. For parallel speed, give each
    thread its own model copy.

    Example:
        >>> seg = NASSegmenter(model, n_segments=16)
        >>> segments = seg(images)          # LongTensor (N, 1, H, W)
        >>> result = seg.segment(images)    # NASResult with embedding and centroids
    """

    def __init__(
        self,
        model: nn.Module,
        *,
        layers: str | Sequence[str | nn.Module] = "auto",
        n_segments: int = 32,
        seed: int = 0,
        grid_size: int = 56,
        normalize: str = "l2",
        pca_dims: int | None = 16,
        layer_weights: str | float | Sequence[float] = "equal",
        spatial_weight: float = 0.3,
        max_iter: int = 30,
        tol: float = 0.02,
        seed_points: int | None = 1024,
        connectivity: bool = False,
        min_size: float | None = None,
        upsample: str = "bilinear",
        mode: str = "flat",
        batch_size: int | None = None,
        memory_budget: int | None = DEFAULT_MEMORY_BUDGET,
        progress: bool = False,
        color_weight: float = 1.0,
        refine: int | None = 1,
        refine_color_weight: float | None = None,
        to_image: Callable[[Tensor], Tensor] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        superpixels: int = 200,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be a torch.nn.Module, got {type(model).__name__}")
        self.model = model
        self.n_segments = check_positive_int(n_segments, "n_segments")
        self.seed = check_seed(seed)
        self.grid_size = check_positive_int(grid_size, "grid_size")
        self.normalize = check_choice(normalize, "normalize", NORMALIZATIONS)
        self.pca_dims = None if pca_dims is None else check_positive_int(pca_dims, "pca_dims")
        self.spatial_weight = check_number(
            spatial_weight, "spatial_weight", minimum=0.0, maximum=1.0
        )
        self.max_iter = check_positive_int(max_iter, "max_iter")
        self.tol = check_tol(tol)
        self.seed_points = (
            None if seed_points is None else check_positive_int(seed_points, "seed_points")
        )
        if not isinstance(connectivity, bool):
            raise TypeError(f"`connectivity` must be a bool, got {connectivity!r}")
        self.connectivity = connectivity
        self.min_size = (
            0.25 / self.n_segments
            if min_size is None
            else check_number(min_size, "min_size", minimum=0.0, maximum=1.0)
        )
        self.upsample = check_choice(upsample, "upsample", UPSAMPLE_MODES)
        self.mode = check_choice(mode, "mode", MODES)
        self.batch_size = (
            None if batch_size is None else check_positive_int(batch_size, "batch_size")
        )
        self.memory_budget = (
            None if memory_budget is None else check_positive_int(memory_budget, "memory_budget")
        )
        self.progress = bool(progress)
        self.color_weight = check_number(
            color_weight, "color_weight", minimum=0.0, maximum=MAX_WEIGHT
        )
        self.superpixels = check_positive_int(superpixels, "superpixels")
        if refine is not None and (isinstance(refine, bool) or not isinstance(refine, int)):
            raise TypeError(f"`refine` must be None or an int, got {refine!r}")
        if refine is not None and refine < 0:
            raise ValueError(f"`refine` must be None or >= 0, got {refine}")
        self.refine = refine
        self.refine_color_weight = (
            (self.color_weight if self.color_weight > 0 else 0.5)
            if refine_color_weight is None
            else check_number(
                refine_color_weight, "refine_color_weight", minimum=0.0, maximum=MAX_WEIGHT
            )
        )
        self._normalizer = check_image_recovery(to_image, mean, std)
        self._to_image = to_image
        if isinstance(layers, str) and layers == "auto":
            self._modules: list[nn.Module] | None = None
        else:
            if isinstance(layers, str):
                layers = [layers]
            self._modules = resolve_layers(model, layers)
        self._auto_cache: dict[tuple[int, int, int], list[nn.Module]] = {}
        self._ratio = 2.0
        if isinstance(layer_weights, bool):
            raise TypeError(
                "`layer_weights` must be 'geometric', 'equal', a ratio or a sequence of "
                f"weights, got {layer_weights!r}"
            )
        if isinstance(layer_weights, (int, float)):
            self._ratio = check_number(
                float(layer_weights), "layer_weights", minimum=1.0 / MAX_WEIGHT, maximum=MAX_WEIGHT
            )
            layer_weights = "geometric"
        if isinstance(layer_weights, str):
            self.layer_weights: str | list[float] = check_choice(
                layer_weights, "layer_weights", ("geometric", "equal")
            )
        else:
            weights = [check_number(v, "layer_weights", minimum=0.0) for v in layer_weights]
            if not weights or sum(weights) <= 0:
                raise ValueError(
                    f"`layer_weights` must have a positive entry, got {list(layer_weights)}"
                )
            if self._modules is not None and len(weights) != len(self._modules):
                raise ValueError(
                    f"`layer_weights` has {len(weights)} entries for {len(self._modules)} layers"
                )
            self.layer_weights = weights

    def __repr__(self) -> str:
        return (
            f"NASSegmenter(model={type(self.model).__name__}, n_segments={self.n_segments}, "
            f"seed={self.seed}, normalize={self.normalize!r}, pca_dims={self.pca_dims}, "
            f"spatial_weight={self.spatial_weight}, tol={self.tol}, "
            f"seed_points={self.seed_points}, connectivity={self.connectivity}, "
            f"mode={self.mode!r}, layer_weights={self.layer_weights!r}, "
            f"color_weight={self.color_weight}, refine={self.refine})"
        )

    def _weights(self) -> dict[str, float]:
        """The options that scale the clustered features (for error messages)."""
        return {"spatial_weight": self.spatial_weight, "color_weight": self.color_weight}

    # -- layers ---------------------------------------------------------------------
    def layers_for(self, inputs: Tensor) -> list[nn.Module]:
        """Modules whose activations are clustered for inputs shaped like ``inputs``."""
        if self._modules is not None:
            return self._modules
        key = (int(inputs.shape[1]), int(inputs.shape[2]), int(inputs.shape[3]))
        if key not in self._auto_cache:
            names = auto_layers(self.model, key, device=inputs.device, dtype=self._dtype(inputs))
            self._auto_cache[key] = resolve_layers(self.model, names)
        return self._auto_cache[key]

    def _dtype(self, inputs: Tensor) -> torch.dtype:
        param = next(self.model.parameters(), None)
        if param is not None and param.is_floating_point():
            return param.dtype
        return inputs.dtype if inputs.is_floating_point() else torch.float32

    # -- pipeline -------------------------------------------------------------------
    def _activations(self, inputs: Tensor, modules: list[nn.Module]) -> list[Tensor]:
        x = inputs.detach().to(self._dtype(inputs))
        chunks = [x] if self.batch_size is None else list(x.split(self.batch_size))
        per_chunk: list[list[Tensor]] = []
        with preserved_model_state(self.model):
            self.model.eval()
            with torch.inference_mode():
                for chunk in tqdm(
                    chunks, disable=not self.progress or len(chunks) < 2, desc="NAS forward"
                ):
                    with ActivationCapture(modules) as capture:
                        self.model(chunk)
                    per_chunk.append(capture.outputs)
        if len(per_chunk) == 1:
            acts = list(per_chunk[0])
        else:
            acts = [torch.cat([c[i] for c in per_chunk]) for i in range(len(modules))]
        for act, module in zip(acts, modules):
            if act.dim() != 4:
                raise ValueError(
                    f"`layers`: layer {layer_name(self.model, module)!r} outputs shape "
                    f"{tuple(act.shape)}, expected a 4-D (N, C, h, w) activation"
                )
        check_finite_activations(acts, modules, self.model, x)
        return acts

    def _grid(self, acts: list[Tensor]) -> tuple[int, int]:
        h, w = max((a.shape[-2:] for a in acts), key=lambda s: s[0] * s[1])
        scale = min(1.0, self.grid_size / max(h, w))
        return max(1, round(h * scale)), max(1, round(w * scale))

    def _depth_weights(self, acts: list[Tensor]) -> list[float]:
        weights: list[float] = []
        if self.layer_weights == "geometric":
            # ``acts`` is ordered finest first for auto layers; explicit layers keep
            # the user's order, so sort by resolution to weigh coarser layers more
            sizes = [a.shape[-2] * a.shape[-1] for a in acts]
            order = sorted(range(len(acts)), key=lambda i: -sizes[i])
            weights = [0.0] * len(acts)
            for rank, i in enumerate(order):
                weights[i] = self._ratio**rank
        elif self.layer_weights == "equal":
            weights = [1.0] * len(acts)
        elif isinstance(self.layer_weights, list):
            weights = list(self.layer_weights)
        if len(weights) != len(acts):
            raise ValueError(f"`layer_weights` has {len(weights)} entries for {len(acts)} layers")
        return weights

    def _depth_features(self, act: Tensor, grid: tuple[int, int]) -> Tensor:
        """One depth normalised, PCA-reduced at its native resolution, on the grid."""
        a = _normalise(
            act.float() if act.dtype in (torch.float16, torch.bfloat16) else act, self.normalize
        )
        if self.pca_dims is not None:
            a = pca_reduce(a, self.pca_dims)
        if tuple(a.shape[-2:]) != grid:
            a = F.interpolate(a, size=grid, mode="bilinear", align_corners=False)
        return a

    def _coords(self, like: Tensor, grid: tuple[int, int]) -> Tensor | None:
        """Weighted (y, x) coordinates (N, 2, h, w) in [0, 1], or None without them."""
        if self.spatial_weight <= 0:
            return None
        gh, gw = grid
        ys = (torch.arange(gh, device=like.device, dtype=like.dtype) + 0.5) / gh
        xs = (torch.arange(gw, device=like.device, dtype=like.dtype) + 0.5) / gw
        yy, xx = torch.meshgrid(ys, xs, indexing="ij")
        coords = torch.stack([yy, xx]).unsqueeze(0).expand(like.shape[0], 2, gh, gw)
        return coords * self.spatial_weight

    def images(self, inputs: Tensor) -> Tensor:
        """The inputs as images in [0, 1] (N, C, H, W), for the colour term."""
        x = inputs.detach().float()
        if self._to_image is not None:
            img = self._to_image(x)
            if not isinstance(img, Tensor) or img.shape != x.shape:
                raise ValueError(
                    "`to_image` must return a tensor shaped like the inputs "
                    f"{tuple(x.shape)}, got {getattr(img, 'shape', type(img).__name__)}"
                )
            return img.float().clamp(0.0, 1.0)
        if self._normalizer is not None:
            return self._normalizer.inverse(x).clamp(0.0, 1.0)
        lo = x.amin((1, 2, 3), keepdim=True)
        hi = x.amax((1, 2, 3), keepdim=True)
        return (x - lo) / (hi - lo).clamp_min(1e-12)

    def _colors(self, inputs: Tensor) -> Tensor | None:
        """Per-pixel colour features (N, 3, H, W), or None when unused."""
        uses_refine_colour = self.refine is not None and self.refine > 0
        if self.color_weight <= 0 and not uses_refine_colour:
            return None
        img = self.images(inputs)
        if img.shape[1] == 1:
            img = img.expand(-1, 3, -1, -1)
        elif img.shape[1] != 3:
            return None  # colour is only defined for grey or RGB images
        return color_features(img)

    def _cached_depth_features(
        self, acts: list[Tensor], i: int, grid: tuple[int, int], cache: dict[int, Tensor]
    ) -> Tensor:
        """Depth ``i``'s features on the grid, computed once per call of :meth:`segment`."""
        if i not in cache:
            cache[i] = self._depth_features(acts[i], grid)
        return cache[i]

    def _embed(
        self,
        acts: list[Tensor],
        grid: tuple[int, int],
        colors: Tensor | None = None,
        cache: dict[int, Tensor] | None = None,
    ) -> Tensor:
        cache = {} if cache is None else cache
        weights = self._depth_weights(acts)
        total = sum(weights)
        if not math.isfinite(total):  # huge explicit weights: scale them first
            weights = [w / max(weights) for w in weights]
            total = sum(weights)
        parts = [
            self._cached_depth_features(acts, i, grid, cache) * math.sqrt(weight / total)
            for i, weight in enumerate(weights)
            if weight != 0
        ]
        coords = self._coords(parts[0], grid)
        if coords is not None:
            parts.append(coords)
        if colors is not None and self.color_weight > 0:
            small = F.adaptive_avg_pool2d(colors.to(parts[0]), grid)
            parts.append(small * self.color_weight)
        return torch.cat(parts, 1)

    def _cluster_hierarchical(
        self, acts: list[Tensor], grid: tuple[int, int], cache: dict[int, Tensor] | None = None
    ) -> list[Tensor]:
        """Labels (N, P) per level: deepest depth first, refined by shallower depths.

        ``cache`` holds the per-depth features already computed for the embedding."""
        cache = {} if cache is None else cache
        order = sorted(range(len(acts)), key=lambda i: acts[i].shape[-2] * acts[i].shape[-1])
        k, depths = self.n_segments, len(order)
        # K ** ((level + 1) / depths) rounded up: non-decreasing, K at the last level; the
        # deepest level gets at least 2 clusters for K >= 2
        counts = [math.ceil(k ** ((level + 1) / depths) - 1e-9) for level in range(depths)]
        levels: list[Tensor] = []
        coords: Tensor | None = None
        for level, i in enumerate(order):
            feats = self._cached_depth_features(acts, i, grid, cache)
            if level == 0:  # the same coordinates serve every level
                coords = self._coords(feats, grid)
            if coords is not None:
                feats = torch.cat([feats, coords], 1)
            n, d = feats.shape[:2]
            points = feats.reshape(n, d, -1).transpose(1, 2).contiguous()
            parents = levels[-1] if levels else None
            km = batched_kmeans(
                points,
                counts[level],
                max_iter=self.max_iter,
                seed=self.seed,
                groups=parents,
                tol=self.tol,
            )
            levels.append(km.labels)
        return levels

    def embed(self, inputs: Tensor) -> Tensor:
        """Per-pixel NAS features (N, D, h, w) on the working grid.

        Args:
            inputs: images (N, C, H, W) as the model expects them.

        Returns:
            The embedding that :meth:`segment` clusters.
        """
        x = check_image_batch(inputs)
        acts = self._activations(x, self.layers_for(x))
        return self._embed(acts, self._grid(acts), self._colors(x))

    def shares_forward(self, inputs: Tensor) -> bool:
        """Whether activations captured from another forward of the model on ``inputs``
        are the ones :meth:`segment` would compute itself: the model is in eval mode
        (NAS runs it in eval mode) and ``inputs`` already have the model's dtype."""
        if any(m.training for m in self.model.modules()):
            return False
        return inputs.dtype == self._dtype(inputs)

    def _checked_activations(
        self, activations: Sequence[Tensor], x: Tensor, modules: list[nn.Module]
    ) -> list[Tensor]:
        """Precomputed activations checked against the layers and the inputs' batch."""
        if isinstance(activations, Tensor) or not isinstance(activations, Sequence):
            raise TypeError(
                "`activations` must be a sequence of tensors, one per layer, got "
                f"{type(activations).__name__}"
            )
        if len(activations) != len(modules):
            raise ValueError(
                f"`activations` has {len(activations)} tensors for {len(modules)} layers "
                f"{[layer_name(self.model, m) for m in modules]}"
            )
        acts: list[Tensor] = []
        for act, module in zip(activations, modules):
            if not isinstance(act, Tensor) or act.dim() != 4 or act.shape[0] != x.shape[0]:
                got = tuple(act.shape) if isinstance(act, Tensor) else type(act).__name__
                raise ValueError(
                    f"`activations` for layer {layer_name(self.model, module)!r}: expected a "
                    f"4-D (N, C, h, w) tensor with N={x.shape[0]}, got {got}"
                )
            acts.append(act.detach())
        check_finite_activations(acts, modules, self.model, x)
        return acts

    def segment(self, inputs: Tensor, *, activations: Sequence[Tensor] | None = None) -> NASResult:
        """Segment ``inputs`` and return the segments with the embedding and centroids.

        Args:
            inputs: images (N, C, H, W) as the model expects them (normalised).
            activations: the outputs of :meth:`layers_for` ``(inputs)``'s layers, in that
                order, from a forward of the model (in eval mode) on ``inputs``, e.g.
                captured while an attribution ran it
                (:class:`~captum_nas.attr.shared_forward.CleanForwardCapture`); NAS then
                runs no forward of its own. ``None``: NAS runs the forward.

        Returns:
            A :class:`NASResult`.

        Raises:
            ValueError: bad inputs, or ``n_segments`` larger than the working grid.
        """
        x = check_image_batch(inputs)
        modules = self.layers_for(x)
        acts = None if activations is None else self._checked_activations(activations, x, modules)
        size = self.chunk_size(x)
        n = x.shape[0]
        if size >= n or self.mode == "slic-merge":
            return self._segment_chunk(x, modules, acts)
        starts = range(0, n, size)
        parts = [
            self._segment_chunk(
                x[i : i + size], modules, None if acts is None else [a[i : i + size] for a in acts]
            )
            for i in tqdm(starts, disable=not self.progress, desc="NAS chunks")
        ]
        return _concat_results(parts)

    def chunk_size(self, inputs: Tensor) -> int:
        """Images segmented at once under ``memory_budget`` (all of them without one)."""
        if self.memory_budget is None:
            return max(1, inputs.shape[0])
        per_image = _BYTES_PER_PIXEL * inputs.shape[-2] * inputs.shape[-1]
        return max(1, self.memory_budget // per_image)

    def _segment_chunk(
        self, x: Tensor, modules: list[nn.Module], acts: list[Tensor] | None
    ) -> NASResult:
        """:meth:`segment` of one chunk (every image's result is independent of the rest)."""
        if acts is None:
            acts = self._activations(x, modules)
        grid = self._grid(acts)
        if self.n_segments > grid[0] * grid[1]:
            raise ValueError(
                f"`n_segments` ({self.n_segments}) is larger than the working grid "
                f"{grid[0]}x{grid[1]} = {grid[0] * grid[1]} cells for inputs of size "
                f"{tuple(x.shape[-2:])}; use fewer segments or larger images"
            )
        colors = self._colors(x)
        depth_cache: dict[int, Tensor] = {}
        emb = self._embed(acts, grid, colors, depth_cache)
        n, d, gh, gw = emb.shape
        points = emb.reshape(n, d, gh * gw).transpose(1, 2).contiguous()
        check_finite_features(points, self._weights())
        if self.mode == "slic-merge":
            return self._slic_merge(x, emb, points, modules)
        if self.mode == "flat":
            km = batched_kmeans(
                points,
                self.n_segments,
                max_iter=self.max_iter,
                seed=self.seed,
                tol=self.tol,
                seed_points=self.seed_points,
            )
            levels = [km.labels]
            centroids, inertia = km.centroids, km.inertia
        else:
            levels = self._cluster_hierarchical(acts, grid, depth_cache)
            centroids, inertia = _cluster_means(points, levels[-1], self.n_segments)
        flat_labels = levels[-1]
        labels = flat_labels.reshape(n, gh, gw)
        if self.connectivity:
            labels = connected_components(labels)
            min_pixels = max(1, math.ceil(self.min_size * gh * gw))
            labels = merge_small_segments(labels, min_pixels)
        labels = relabel_contiguous(labels.unsqueeze(1)).squeeze(1)
        if self.refine is None:
            segments = upsample_labels(labels, (x.shape[-2], x.shape[-1]), mode=self.upsample)
        else:
            segments = self._refine(points, labels, colors, x)
        segments = relabel_contiguous(segments.unsqueeze(1)).to(x.device)
        levels = [lab.reshape(n, gh, gw) for lab in levels]
        return self._result(segments, labels, emb, centroids, inertia, modules, levels)

    def _result(
        self,
        segments: Tensor,
        grid_labels: Tensor,
        emb: Tensor,
        centroids: Tensor,
        inertia: Tensor,
        modules: list[nn.Module],
        levels: list[Tensor],
    ) -> NASResult:
        """The :class:`NASResult` of one chunk (the layers named from ``modules``)."""
        return NASResult(
            segments=segments.contiguous(),
            grid_labels=grid_labels,
            embedding=emb,
            centroids=centroids,
            inertia=inertia,
            layers=[layer_name(self.model, m) for m in modules],
            levels=levels,
        )

    def _slic_merge(
        self, x: Tensor, emb: Tensor, points: Tensor, modules: list[nn.Module]
    ) -> NASResult:
        from captum_nas.segmentation.classic import SLICSegmenter
        from captum_nas.segmentation.merge import merge_superpixels

        n, _, gh, gw = emb.shape
        superpixels = SLICSegmenter(self.superpixels, to_image=self.images)(x)[:, 0]
        regions = merge_superpixels(superpixels, emb, self.n_segments)
        segments = relabel_contiguous(regions.unsqueeze(1)).to(x.device)
        grid_labels = F.interpolate(segments.float(), size=(gh, gw), mode="nearest")[:, 0].long()
        grid_labels = relabel_contiguous(grid_labels.unsqueeze(1)).squeeze(1)
        k = int(grid_labels.max()) + 1
        centroids, inertia = _cluster_means(points, grid_labels.reshape(n, -1).to(points.device), k)
        return self._result(segments, grid_labels, emb, centroids, inertia, modules, [grid_labels])

    def _refine(self, points: Tensor, labels: Tensor, colors: Tensor | None, x: Tensor) -> Tensor:
        """Full-resolution labels (N, H, W) from the grid labels (see ``refine``)."""
        n, d = labels.shape[0], points.shape[-1]
        if colors is not None and self.color_weight > 0:
            d -= 3  # the colour is measured per pixel instead
        n_labels = int(labels.max()) + 1
        dist = cluster_distances(points, labels.reshape(n, -1), n_labels, dims=d)
        if colors is None:
            colors = torch.zeros(n, 3, x.shape[-2], x.shape[-1], device=points.device)
        return refine_labels(
            labels,
            dist,
            colors.to(points),
            color_weight=self.refine_color_weight,
            iterations=self.refine or 0,
        )

    def __call__(self, inputs: Tensor) -> Tensor:
        """Segment ``inputs`` (N, C, H, W) into LongTensor ids (N, 1, H, W)."""
        return self.segment(inputs).segments
