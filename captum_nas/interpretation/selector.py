"""Relevant-feature selection: a sparse linear map from channel energies to classes.

Oramas et al. (ICLR 2019) fit a lasso from every training image's feature vector
(:mod:`captum_nas.interpretation.features`) to its one-hot label, one output per class;
the relevant features of class ``c`` are the (layer, channel) pairs with a positive
weight in output ``c``. :class:`RelevantFeatureSelector` does this with the torch
solver of :mod:`captum_nas.interpretation.lasso`, exposes the sparsity both as the
lasso penalty ``alpha`` and as a feature budget ``max_per_class``, and saves to a plain
file of tensors, lists and numbers (loaded with ``torch.load(..., weights_only=True)``).

By default the features are standardised (divided by their standard deviation over
the training images) before the lasso, so that the penalty treats channels of wide
and narrow layers alike (L1 normalisation within a layer makes a 128-channel layer's
entries about 8 times smaller than a 16-channel layer's); the stored weights are those
of the standardised problem, and :meth:`RelevantFeatureSelector.relevance` maps them
back to the raw features.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from captum_nas._checkpoint import read_torch_file
from captum_nas._validation import check_number, check_positive_int, check_tensor, describe
from captum_nas.interpretation.features import ChannelEnergy, FeatureLayout, LayersLike
from captum_nas.interpretation.lasso import lasso

STATE_VERSION = 1


class NotFittedError(ValueError):
    """A selector was used before :meth:`RelevantFeatureSelector.fit` or ``load``."""


@dataclass(frozen=True)
class RelevantFeature:
    """One relevant feature of a class.

    Attributes:
        index: position in the feature vector.
        layer: dotted layer name.
        channel: channel of that layer.
        weight: lasso weight (standardised features when the selector standardises).
    """

    index: int
    layer: str
    channel: int
    weight: float


def _check_labels(labels: Any, n: int, n_classes: int | None) -> tuple[Tensor, int]:
    check_tensor(labels, "labels")
    if labels.is_floating_point() or labels.dtype == torch.bool or labels.is_complex():
        raise TypeError(f"`labels` must hold integer class ids, got dtype {labels.dtype}")
    if labels.dim() != 1 or labels.shape[0] != n:
        raise ValueError(
            f"`labels` must have shape ({n},) to match the {n} feature vectors, got "
            f"{tuple(labels.shape)}"
        )
    lo, hi = int(labels.min()), int(labels.max())
    if lo < 0:
        raise ValueError(f"`labels` must be class ids >= 0, got {lo}")
    k = hi + 1 if n_classes is None else check_positive_int(n_classes, "n_classes")
    if hi >= k:
        raise ValueError(f"`labels` holds class {hi}, but `n_classes` is {k}")
    counts = torch.bincount(labels.long().cpu(), minlength=k)
    empty = torch.nonzero(counts == 0).flatten().tolist()
    if empty:
        raise ValueError(
            f"`labels` has no sample of class(es) {empty}; every class needs examples "
            "(or pass a smaller `n_classes`)"
        )
    return labels.long(), k


class RelevantFeatureSelector:
    """Lasso selection of the channels relevant to each class.

    Args:
        alpha: lasso penalty (scikit-learn's ``alpha``: the least-squares term is
            averaged over samples); larger means fewer features.
        max_per_class: feature budget: keep at most this many features per class (the
            largest positive weights); ``None`` keeps every positive weight.
        positive: constrain the lasso weights to be >= 0 (the paper keeps only the
            positive weights of an unconstrained lasso, the default).
        standardize: divide each feature by its standard deviation before the lasso.
        max_iter: FISTA iterations at most.
        tol: FISTA stopping tolerance.

    Example:
        >>> import tempfile
        >>> from pathlib import Path
        >>> energy = ChannelEnergy(model, ["layer1", "layer2"])
        >>> x, y = torch.rand(10, 3, 32, 32), torch.arange(5).repeat(2)   # every class twice
        >>> selector = RelevantFeatureSelector(alpha=0.01, max_per_class=5)
        >>> selector.fit(energy(x), y, layout=energy.layout)  # doctest: +ELLIPSIS
        RelevantFeatureSelector(alpha=0.01, 5 classes, ... relevant features)
        >>> relevant = selector.relevant(3)   # [RelevantFeature(index=.., layer=.., ...), ...]
        >>> 1 <= len(relevant) <= 5, relevant[0].layer in ("layer1", "layer2")
        (True, True)
        >>> with tempfile.TemporaryDirectory() as tmp:
        ...     path = selector.save(Path(tmp) / "selector.pt")
        ...     RelevantFeatureSelector.load(path).n_classes
        5
    """

    def __init__(
        self,
        *,
        alpha: float = 0.01,
        max_per_class: int | None = None,
        positive: bool = False,
        standardize: bool = True,
        max_iter: int = 20000,
        tol: float = 1e-5,
    ) -> None:
        self.alpha = check_number(alpha, "alpha", minimum=0.0)
        self.max_per_class = (
            None if max_per_class is None else check_positive_int(max_per_class, "max_per_class")
        )
        for flag, name in ((positive, "positive"), (standardize, "standardize")):
            if not isinstance(flag, bool):
                raise TypeError(f"`{name}` must be a bool, got {describe(flag)}")
        self.positive = positive
        self.standardize = standardize
        self.max_iter = check_positive_int(max_iter, "max_iter")
        self.tol = check_number(tol, "tol", minimum=0.0, strict_min=True)
        self.layout: FeatureLayout | None = None
        self.coef_: Tensor | None = None
        self.intercept_: Tensor | None = None
        self.mean_: Tensor | None = None
        self.scale_: Tensor | None = None
        self.metadata: dict[str, Any] = {}

    # ------------------------------------------------------------------ fitting

    @property
    def is_fitted(self) -> bool:
        """Whether :meth:`fit` (or :meth:`load`) has run."""
        return self.coef_ is not None

    def _require_fitted(self) -> Tensor:
        if self.coef_ is None:
            raise NotFittedError(
                "the `selector` is not fitted: call fit(features, labels) or "
                "RelevantFeatureSelector.load(path) first"
            )
        return self.coef_

    @property
    def n_classes(self) -> int:
        """Number of classes (outputs)."""
        return int(self._require_fitted().shape[0])

    @property
    def n_features(self) -> int:
        """Length of the feature vectors."""
        return int(self._require_fitted().shape[1])

    def fit(
        self,
        features: Tensor,
        labels: Tensor,
        *,
        n_classes: int | None = None,
        layout: FeatureLayout | None = None,
    ) -> RelevantFeatureSelector:
        """Fit the lasso from feature vectors to one-hot labels.

        Args:
            features: (N, d) feature vectors (e.g. from :class:`ChannelEnergy`).
            labels: (N,) class ids.
            n_classes: number of classes (default: ``labels.max() + 1``).
            layout: which (layer, channel) each feature is; default: one layer named
                ``"features"`` with d channels.

        Returns:
            ``self``.

        Raises:
            ValueError: ``labels`` do not match ``features`` (length, range, a class
                without samples) or ``layout`` does not describe d features.
        """
        check_tensor(features, "features")
        if features.dim() != 2 or features.shape[0] < 2 or features.shape[1] == 0:
            raise ValueError(f"`features` must be (N >= 2, d >= 1), got {describe(features)}")
        if not features.is_floating_point():
            raise TypeError(f"`features` must be floating point, got dtype {features.dtype}")
        if not bool(torch.isfinite(features).all()):
            raise ValueError("`features` contains NaN or Inf values")
        n, d = features.shape
        y_ids, k = _check_labels(labels, n, n_classes)
        if layout is None:
            layout = FeatureLayout(("features",), (d,))
        if not isinstance(layout, FeatureLayout):
            raise TypeError(f"`layout` must be a FeatureLayout, got {describe(layout)}")
        if layout.n_features != d:
            raise ValueError(f"`layout` describes {layout.n_features} features, `features` has {d}")
        x = features.detach().to(torch.float64 if features.device.type != "mps" else torch.float32)
        mean = x.mean(0)
        if self.standardize:
            scale = x.std(0, unbiased=False)
            scale = torch.where(scale > 0, scale, torch.ones_like(scale))
        else:
            scale = torch.ones_like(mean)
        y = torch.nn.functional.one_hot(y_ids.to(x.device), k).to(x.dtype)
        fit = lasso(
            x / scale,
            y,
            self.alpha,
            positive=self.positive,
            max_iter=self.max_iter,
            tol=self.tol,
        )
        coef = fit.coef.clone()
        if self.max_per_class is not None:
            keep = torch.zeros_like(coef, dtype=torch.bool)
            top = coef.clamp_min(0).topk(min(self.max_per_class, d), dim=1).indices
            keep.scatter_(1, top, True)
            coef = torch.where(keep | (coef <= 0), coef, torch.zeros_like(coef))
        self.layout = layout
        self.coef_ = coef.float()
        self.intercept_ = fit.intercept.float()
        self.mean_ = mean.float()
        self.scale_ = scale.float()
        pred = (x / scale) @ fit.coef.T + fit.intercept
        self.metadata = {
            "n_samples": int(n),
            "n_iter": int(fit.n_iter),
            "converged": bool(fit.converged),
            "train_accuracy": float((pred.argmax(1) == y_ids.to(x.device)).float().mean()),
        }
        return self

    def fit_model(
        self,
        model: nn.Module,
        data: Iterable[tuple[Tensor, Tensor]],
        *,
        layers: LayersLike | None = None,
        n_classes: int | None = None,
        progress: bool = True,
        total: int | None = None,
    ) -> RelevantFeatureSelector:
        """Extract channel energies of ``model`` on ``data`` and :meth:`fit` on them.

        Args:
            model: the classifier.
            data: iterable of ``(images, labels)`` batches.
            layers: feature layers (default: the stage outputs NAS uses).
            n_classes: number of classes (default: the model's outputs).
            progress: tqdm bar over the batches.
            total: number of batches, for the bar.

        Returns:
            ``self``.
        """
        energy: ChannelEnergy | None = None
        feats, labs = [], []
        from tqdm.auto import tqdm

        for images, labels in tqdm(data, total=total, disable=not progress, desc="features"):
            if energy is None:
                energy = ChannelEnergy(model, layers, input_shape=tuple(images.shape[1:]))
            f, logits = energy.forward_with_logits(images)
            feats.append(f)
            labs.append(labels.to(f.device))
            if n_classes is None and logits.dim() == 2:
                n_classes = int(logits.shape[1])
        if energy is None:
            raise ValueError("`data` is empty")
        return self.fit(
            torch.cat(feats), torch.cat(labs), n_classes=n_classes, layout=energy.layout
        )

    # ------------------------------------------------------------------ reading

    def check_class(self, target: int, name: str = "target") -> int:
        """``target`` when it is a class id of the selector; else ValueError."""
        k = self.n_classes
        if not 0 <= int(target) < k:
            raise ValueError(f"`{name}` must be a class id in [0, {k}), got {target}")
        return int(target)

    def relevant(self, target: int) -> list[RelevantFeature]:
        """Relevant features of class ``target`` (positive weights), largest weight first."""
        coef = self._require_fitted()
        c = self.check_class(target)
        assert self.layout is not None
        row = coef[c].detach().cpu()
        idx = torch.nonzero(row > 0).flatten()
        idx = idx[row[idx].argsort(descending=True)]
        out = []
        for i in idx.tolist():
            layer, channel = self.layout.locate(i)
            out.append(RelevantFeature(int(i), layer, channel, float(row[i])))
        return out

    def relevant_features(self) -> dict[int, list[RelevantFeature]]:
        """Class id -> its relevant features (see :meth:`relevant`)."""
        return {c: self.relevant(c) for c in range(self.n_classes)}

    def decision(self, features: Tensor) -> Tensor:
        """Linear class scores (N, K) of feature vectors (N, d)."""
        coef = self._require_fitted()
        assert self.scale_ is not None and self.intercept_ is not None
        f = self._check_features(features)
        return (f / self.scale_.to(f)) @ coef.to(f).T + self.intercept_.to(f)

    def relevance(self, features: Tensor, target: Tensor) -> Tensor:
        """Per-image relevance of every feature for its target class.

        The image's feature vector, L2-normalised, times the class weights mapped back
        to the raw features (``weight / scale``); features that are not relevant to
        the class (weight <= 0) get ``-inf``.

        Args:
            features: (N, d) feature vectors.
            target: (N,) class ids.

        Returns:
            (N, d) tensor.

        Raises:
            ValueError: a target class has no relevant feature (the message names it).
        """
        coef = self._require_fitted()
        assert self.scale_ is not None
        f = self._check_features(features)
        t = target.to(device=f.device, dtype=torch.long)
        w = coef.to(f)[t]
        empty = torch.nonzero((w > 0).sum(1) == 0).flatten()
        if empty.numel():
            classes = sorted(set(t[empty].tolist()))
            raise ValueError(
                f"`target` class(es) {classes} have no relevant feature in this selector "
                f"(alpha={self.alpha}); fit it with a smaller `alpha`"
            )
        fn = f / f.norm(dim=1, keepdim=True).clamp_min(torch.finfo(f.dtype).tiny)
        rel = fn * (w / self.scale_.to(f))
        return torch.where(w > 0, rel, torch.full_like(rel, -torch.inf))

    def _check_features(self, features: Tensor) -> Tensor:
        check_tensor(features, "features")
        if features.dim() != 2 or features.shape[1] != self.n_features:
            raise ValueError(
                f"`features` must be (N, {self.n_features}), got {tuple(features.shape)}"
            )
        return features.float()

    # ------------------------------------------------------------------ saving

    def state_dict(self) -> dict[str, Any]:
        """Plain state: tensors, lists, numbers and strings (``weights_only``-safe)."""
        coef = self._require_fitted()
        assert self.layout is not None
        return {
            "version": STATE_VERSION,
            "config": {
                "alpha": self.alpha,
                "max_per_class": self.max_per_class,
                "positive": self.positive,
                "standardize": self.standardize,
                "max_iter": self.max_iter,
                "tol": self.tol,
            },
            "layers": list(self.layout.layers),
            "channels": list(self.layout.channels),
            "coef": coef.detach().cpu().clone(),
            "intercept": self.intercept_.detach().cpu().clone(),  # type: ignore[union-attr]
            "mean": self.mean_.detach().cpu().clone(),  # type: ignore[union-attr]
            "scale": self.scale_.detach().cpu().clone(),  # type: ignore[union-attr]
            "metadata": dict(self.metadata),
        }

    @classmethod
    def from_state(cls, state: Mapping[str, Any]) -> RelevantFeatureSelector:
        """A fitted selector from :meth:`state_dict`'s output.

        Raises:
            ValueError: ``state`` is not such a state.
        """
        keys = {"version", "config", "layers", "channels", "coef", "intercept", "mean", "scale"}
        if not isinstance(state, Mapping) or not keys <= set(state):
            got = sorted(state) if isinstance(state, Mapping) else describe(state)
            raise ValueError(
                f"`state` is not a selector state (needs keys {sorted(keys)}, got {got})"
            )
        if state["version"] != STATE_VERSION:
            raise ValueError(f"`state` has version {state['version']}, expected {STATE_VERSION}")
        selector = cls(**state["config"])
        layout = FeatureLayout(tuple(state["layers"]), tuple(int(c) for c in state["channels"]))
        coef = state["coef"]
        if not isinstance(coef, Tensor) or coef.dim() != 2 or coef.shape[1] != layout.n_features:
            raise ValueError(f"`state` coef {describe(coef)} does not match its layers {layout}")
        selector.layout = layout
        selector.coef_ = coef.float()
        selector.intercept_ = state["intercept"].float()
        selector.mean_ = state["mean"].float()
        selector.scale_ = state["scale"].float()
        selector.metadata = dict(state.get("metadata", {}))
        return selector

    def save(self, path: str | Path) -> Path:
        """Write :meth:`state_dict` to ``path`` (``torch.save``)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        torch.save(self.state_dict(), p)
        return p

    @classmethod
    def load(cls, path: str | Path) -> RelevantFeatureSelector:
        """Read a selector saved by :meth:`save` (``torch.load(weights_only=True)``).

        Raises:
            FileNotFoundError: no such file.
            ValueError: the file is not a selector.
        """
        return cls.from_state(read_torch_file(path, "a selector"))

    def __repr__(self) -> str:
        fitted = (
            f"{self.n_classes} classes, {int((self.coef_ > 0).sum())} relevant features"
            if self.coef_ is not None
            else "not fitted"
        )
        return f"RelevantFeatureSelector(alpha={self.alpha}, {fitted})"


def selector_layers(selector: RelevantFeatureSelector) -> Sequence[str]:
    """The dotted layer names a fitted selector reads."""
    selector._require_fitted()
    assert selector.layout is not None
    return selector.layout.layers
