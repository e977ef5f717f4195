"""Channel-energy feature vectors (Oramas et al., ICLR 2019).

For every image, the energy of each filter's response at a set of layers (the sum of
squares of its activation map over space), L1-normalised within each layer and
concatenated over the layers: one vector of ``sum(channels)`` entries per image. The
activations are recorded with the same hooks the NAS segmenter uses
(:class:`~captum_nas._model_state.ActivationCapture`), and the model's mode, flags and
hooks are restored after every call.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from tqdm.auto import tqdm

from captum_nas._model_state import (
    ActivationCapture,
    layer_name,
    preserved_model_state,
    resolve_layer,
)
from captum_nas._validation import check_image_batch, check_tensor, describe

LayersLike = str | nn.Module | Sequence[str | nn.Module]


@dataclass(frozen=True)
class FeatureLayout:
    """Where each feature of a concatenated vector comes from.

    Attributes:
        layers: dotted layer names, in the order of concatenation.
        channels: number of channels of each layer.
    """

    layers: tuple[str, ...]
    channels: tuple[int, ...]

    @property
    def n_features(self) -> int:
        """Length of a feature vector."""
        return int(sum(self.channels))

    @property
    def offsets(self) -> tuple[int, ...]:
        """Index of the first feature of each layer."""
        out, start = [], 0
        for c in self.channels:
            out.append(start)
            start += c
        return tuple(out)

    def locate(self, index: int) -> tuple[str, int]:
        """``(layer name, channel)`` of feature ``index``.

        Raises:
            ValueError: ``index`` is out of range.
        """
        if not 0 <= index < self.n_features:
            raise ValueError(f"`index` must be in [0, {self.n_features}), got {index}")
        for name, start, c in zip(self.layers, self.offsets, self.channels):
            if index < start + c:
                return name, index - start
        raise AssertionError("unreachable")  # pragma: no cover

    def index(self, layer: str, channel: int) -> int:
        """Feature index of ``channel`` of ``layer``.

        Raises:
            ValueError: unknown layer or channel out of range.
        """
        if layer not in self.layers:
            raise ValueError(f"`layer` {layer!r} is not one of the feature layers {self.layers}")
        i = self.layers.index(layer)
        if not 0 <= channel < self.channels[i]:
            raise ValueError(
                f"`channel` must be in [0, {self.channels[i]}) for layer {layer!r}, got {channel}"
            )
        return self.offsets[i] + channel


def resolve_feature_layers(
    model: nn.Module, layers: LayersLike | None, input_shape: Sequence[int] | None = None
) -> tuple[list[nn.Module], tuple[str, ...]]:
    """Modules and dotted names of ``layers``; ``None`` = the stage outputs NAS uses.

    Args:
        model: the classifier.
        layers: a dotted name, a module, a sequence of them, or ``None`` (then
            :func:`captum_nas.segmentation.auto_layers` on ``input_shape``).
        input_shape: (C, H, W) of one image, needed when ``layers`` is ``None``.

    Raises:
        ValueError: a layer name that does not exist (the message lists close names),
            or an empty list.
    """
    if layers is None:
        from captum_nas.segmentation import auto_layers

        if input_shape is None:
            raise ValueError("`layers` is None: pass `input_shape` to pick the stage outputs")
        names = auto_layers(model, tuple(input_shape))
        layers = list(names)
    if isinstance(layers, (str, nn.Module)):
        layers = [layers]
    if not isinstance(layers, Sequence) or len(layers) == 0:
        raise ValueError(f"`layers` must be a non-empty sequence of names, got {describe(layers)}")
    modules = [resolve_layer(model, layer, "layers") for layer in layers]
    names_out = tuple(layer_name(model, m) for m in modules)
    if len(set(names_out)) != len(names_out):
        raise ValueError(f"`layers` repeats a layer: {names_out}")
    return modules, names_out


def energy_from_activations(activations: Sequence[Tensor]) -> Tensor:
    """Feature vectors from recorded activations: per-channel energy, L1 per layer.

    Args:
        activations: one (N, C_l, h_l, w_l) tensor per layer (or (N, C_l) for vector
            outputs, whose energy is the square).

    Returns:
        (N, sum C_l) tensor: the energy ``sum_{x,y} a^2`` of every channel, divided by
        the layer's total energy (a layer with zero energy gives zeros).
    """
    parts = []
    for a in activations:
        check_tensor(a, "activations")
        if a.dim() < 2:
            raise ValueError(f"`activations` entries must be (N, C, ...), got {describe(a)}")
        energy = a.detach().float().pow(2).flatten(2).sum(-1) if a.dim() > 2 else a.float() ** 2
        total = energy.sum(1, keepdim=True)
        parts.append(energy / total.clamp_min(torch.finfo(energy.dtype).tiny))
    return torch.cat(parts, dim=1)


class ChannelEnergy:
    """Compute channel-energy feature vectors of a classifier at chosen layers.

    Args:
        model: the classifier (``nn.Module``).
        layers: dotted names or modules; ``None`` picks the stage outputs with
            :func:`captum_nas.segmentation.auto_layers` (needs ``input_shape``).
        input_shape: (C, H, W) of one image, used only when ``layers`` is ``None``.

    Example:
        >>> energy = ChannelEnergy(model, ["layer1", "layer2"])
        >>> energy(images).shape          # (N, C_layer1 + C_layer2)
        torch.Size([2, 48])
        >>> energy.layout.locate(20)
        ('layer2', 4)
    """

    def __init__(
        self,
        model: nn.Module,
        layers: LayersLike | None = None,
        *,
        input_shape: Sequence[int] | None = None,
    ) -> None:
        if not isinstance(model, nn.Module):
            raise TypeError(f"`model` must be an nn.Module, got {describe(model)}")
        self.model = model
        self.modules, names = resolve_feature_layers(model, layers, input_shape)
        self._names = names
        self._layout: FeatureLayout | None = None

    @property
    def layout(self) -> FeatureLayout:
        """The :class:`FeatureLayout` (known after the first call)."""
        if self._layout is None:
            raise RuntimeError("the feature layout is known after the first call")
        return self._layout

    def activations(self, inputs: Tensor) -> tuple[Tensor, list[Tensor]]:
        """Logits and the recorded layer outputs of one forward (no gradients)."""
        check_image_batch(inputs, "inputs")
        with preserved_model_state(self.model), torch.no_grad():
            with ActivationCapture(self.modules) as cap:
                logits = self.model(inputs)
            acts = cap.outputs
        return logits, acts

    def __call__(self, inputs: Tensor) -> Tensor:
        """Feature vectors (N, n_features) of ``inputs`` (float32, inputs' device)."""
        return self.forward_with_logits(inputs)[0]

    def forward_with_logits(self, inputs: Tensor) -> tuple[Tensor, Tensor]:
        """``(features, logits)`` of one forward pass."""
        logits, acts = self.activations(inputs)
        layout = FeatureLayout(self._names, tuple(int(a.shape[1]) for a in acts))
        if self._layout is not None and self._layout != layout:
            raise ValueError(
                f"`inputs` give layer widths {layout.channels}, expected {self._layout.channels}"
            )
        self._layout = layout
        return energy_from_activations(acts), logits

    def extract(
        self, batches: Iterable[Tensor], *, progress: bool = True, total: int | None = None
    ) -> Tensor:
        """Feature vectors of a data set given as an iterable of image batches.

        Args:
            batches: image batches (N_i, C, H, W).
            progress: show a tqdm bar.
            total: number of batches, for the bar.

        Returns:
            (sum N_i, n_features) on the batches' device.
        """
        out = [self(x) for x in tqdm(batches, total=total, disable=not progress, desc="features")]
        if not out:
            raise ValueError("`batches` is empty")
        return torch.cat(out)
