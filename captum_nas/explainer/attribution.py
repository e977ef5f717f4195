"""The trained Explainer as a Captum ``Attribution``: one forward pass per explanation.

:class:`ExplainerAttribution` wraps a classifier (the Explanandum, Captum's
``forward_func``) and an Explainer network trained for it
(:func:`captum_nas.explainer.fit_explainer`). ``attribute(inputs, target)`` runs the
Explainer once and returns the sigmoid mask of the target class, repeated over the
input channels, so it has exactly the inputs' shape: it composes with
``SuperpixelAttribution`` (NAS segments come from the classifier), ``captum.metrics``
and the visualisation helpers like any other attribution.

:func:`load_explainer` reads a checkpoint written by
:func:`captum_nas.explainer.save_explainer`; :func:`shipped_explainer` loads the one
trained for the flowers reference model.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

import torch
from captum.attr import Attribution
from captum.log import log_usage
from torch import Tensor, nn

from captum_nas._checkpoint import read_checkpoint
from captum_nas._model_state import preserved_model_state
from captum_nas._types import ClassTarget
from captum_nas._validation import (
    check_image_batch,
    check_image_input,
    check_target,
    describe,
    explain_dtype_mismatch,
)
from captum_nas.explainer.network import ExplainerNet, mask_logits

#: File name of the shipped Explainer of the flowers reference model ("single").
SHIPPED_NAME = "explainer_flowers_single.pt"


def classifier_n_classes(classifier: nn.Module, inputs: Tensor) -> int:
    """Number of outputs of ``classifier`` (one forward of one image, no gradients).

    The classifier's mode, flags and hooks are left as they were.

    Raises:
        ValueError: the classifier does not return logits ``(N, K)``.
    """
    with preserved_model_state(classifier), torch.no_grad():
        out = classifier(inputs[:1].detach())
    if not isinstance(out, Tensor) or out.dim() != 2:
        raise ValueError(f"the classifier must return logits (N, K), got {describe(out)}")
    return int(out.shape[1])


def check_class_counts(classifier_classes: int, explainer_classes: int) -> None:
    """Raise ``ValueError`` unless classifier and Explainer have the same number of classes."""
    if classifier_classes != explainer_classes:
        raise ValueError(
            f"class count mismatch: the classifier has {classifier_classes} outputs but the "
            f"Explainer gives {explainer_classes} masks; train an Explainer for this "
            "classifier (one mask per class)"
        )


class ExplainerAttribution(Attribution):
    r"""Masks of a trained Explainer as a Captum attribution.

    Args:
        forward_func: the classifier the Explainer was trained for (an ``nn.Module``
            returning logits ``(N, K)``). It is not run to explain; it is checked once
            (one image) for its number of classes, and it is the model a wrapping
            ``SuperpixelAttribution`` segments with (NAS).
        explainer: the Explainer, ``(N, C, H, W)`` -> mask logits ``(N, K, H, W)``.

    Example:
        >>> from captum_nas.attr.superpixel import SuperpixelAttribution
        >>> explainer = ExplainerNet(5)       # untrained here; a trained one: load_explainer(path)
        >>> attr = ExplainerAttribution(model, explainer)
        >>> masks = attr.attribute(images, target=labels)   # images.shape, values in (0, 1)
        >>> masks.shape, bool(masks.min() > 0), bool(masks.max() < 1)
        (torch.Size([2, 3, 32, 32]), True, True)
        >>> pooled = SuperpixelAttribution(attr).attribute(images, target=labels)
        >>> pooled.shape
        torch.Size([2, 3, 32, 32])
    """

    def __init__(self, forward_func: nn.Module, explainer: nn.Module) -> None:
        if not isinstance(forward_func, nn.Module):
            raise TypeError(
                f"`forward_func` must be the classifier (nn.Module), got {describe(forward_func)}"
            )
        if not isinstance(explainer, nn.Module):
            raise TypeError(f"`explainer` must be an nn.Module, got {describe(explainer)}")
        super().__init__(forward_func)
        self.explainer = explainer
        self._classifier_classes: int | None = None

    @property
    def multiplies_by_inputs(self) -> bool:
        """A mask does not multiply by the inputs."""
        return False

    def has_convergence_delta(self) -> bool:
        """Masks have no convergence delta."""
        return False

    def masks(self, inputs: Tensor) -> Tensor:
        """Masks of every class ``(N, K, H, W)`` in ``(0, 1)``: one Explainer forward, no gradients.

        The Explainer runs in eval mode; its mode, flags and hooks are restored.

        Raises:
            ValueError: bad inputs, masks of another size than the inputs, or an
                Explainer whose number of masks differs from the classifier's classes.
        """
        x = check_image_batch(inputs)
        with (
            preserved_model_state(self.explainer),
            torch.no_grad(),
            explain_dtype_mismatch(self.explainer, x),
        ):
            self.explainer.eval()
            logits = mask_logits(self.explainer, x.detach())
        if self._classifier_classes is None:
            model = self.forward_func
            assert isinstance(model, nn.Module)
            with explain_dtype_mismatch(model, x):
                self._classifier_classes = classifier_n_classes(model, x)
        check_class_counts(self._classifier_classes, int(logits.shape[1]))
        return logits.sigmoid()

    @log_usage()
    def attribute(
        self,
        inputs: Tensor | tuple[Tensor],
        target: ClassTarget = None,
        additional_forward_args: Any = None,
    ) -> Any:
        r"""The target class's mask, repeated over the input channels.

        Args:
            inputs: images ``(N, C, H, W)`` (or a 1-tuple holding them; the result is a
                1-tuple too).
            target: class per image: an int, a sequence or tensor of ``N`` ids.
                ``None`` explains the classifier's predicted class (one extra
                classifier forward).
            additional_forward_args: not supported (must be ``None``): the Explainer
                sees the images only.

        Returns:
            Tensor of the inputs' shape, device and dtype, contiguous, values in
            ``(0, 1)``: ``sigmoid(explainer(x))[n, target[n]]`` on every channel.

        Raises:
            TypeError: bad argument types.
            ValueError: bad shapes, a target out of ``[0, K)``, masks of the wrong size
                or a class count mismatch between classifier and Explainer.
        """
        x, is_tuple = check_image_input(inputs, type(self).__name__)
        if additional_forward_args is not None:
            raise TypeError(
                "`additional_forward_args` is not supported by ExplainerAttribution (the "
                f"Explainer sees the images only), got {describe(additional_forward_args)}"
            )
        classes = check_target(target, x.shape[0], device=x.device)
        masks = self.masks(x)
        k = masks.shape[1]
        if classes is None:
            model = self.forward_func
            with preserved_model_state(model), torch.no_grad():
                classes = model(x.detach()).argmax(1)
        if int(classes.max()) >= k:
            raise ValueError(
                f"`target` {int(classes.max())} is out of range for the Explainer's {k} "
                f"classes (ids 0..{k - 1})"
            )
        index = classes.to(masks.device).view(-1, 1, 1, 1).expand(-1, 1, *masks.shape[-2:])
        out = masks.gather(1, index).expand_as(x).to(x.dtype).contiguous()
        return (out,) if is_tuple else out


def shipped_explainer_path() -> Path:
    """Path of the shipped Explainer of the flowers reference model (variant "single")."""
    return Path(str(resources.files("captum_nas").joinpath("data"))) / SHIPPED_NAME


def _read(path: Path) -> dict[str, Any]:
    ckpt = read_checkpoint(path, "an Explainer checkpoint")
    if "network" not in ckpt["metadata"]:
        raise ValueError(f"{path} is not an Explainer checkpoint (metadata has no 'network')")
    return ckpt


def explainer_checkpoint_info(path: str | Path | None = None) -> dict[str, Any]:
    """Metadata of an Explainer checkpoint (default: the shipped one): how it was made.

    Keys include ``network`` (the :class:`ExplainerNet` arguments), ``classifier``,
    ``command``, ``call``, ``seed``, ``epochs_run``, ``best_val_loss``,
    ``val_masked_accuracy``, ``history`` and ``loss_weights``.
    """
    return dict(_read(Path(path) if path is not None else shipped_explainer_path())["metadata"])


def load_explainer(path: str | Path | None = None) -> ExplainerNet:
    """An :class:`ExplainerNet` in eval mode from a checkpoint (default: the shipped one).

    Raises:
        FileNotFoundError: no such file.
        ValueError: not an Explainer checkpoint, or weights that do not fit.
    """
    p = Path(path) if path is not None else shipped_explainer_path()
    ckpt = _read(p)
    cfg = dict(ckpt["metadata"]["network"])
    size = cfg.get("input_size")
    net = ExplainerNet(
        int(cfg["n_classes"]),
        in_channels=int(cfg["in_channels"]),
        widths=tuple(cfg["widths"]),
        input_size=None if size is None else int(size),
    )
    try:
        net.load_state_dict(ckpt["state_dict"])
    except RuntimeError as err:
        raise ValueError(f"the weights in {p} do not fit ExplainerNet({cfg}): {err}") from err
    return net.eval()


def shipped_explainer() -> ExplainerNet:
    """The Explainer trained for ``reference_model("single")``.

    How it was made: :func:`explainer_checkpoint_info`.
    """
    return load_explainer(None)


def build(model: nn.Module, ctx: Any) -> ExplainerAttribution:
    """Registry builder: the Explainer of ``ctx.options["explainer"]`` (a checkpoint path),
    or the shipped one when ``ctx.model_name`` is ``"reference"``.

    Raises:
        ValueError: no Explainer is known for this model.
    """
    options = getattr(ctx, "options", None) or {}
    path = options.get("explainer")
    if path is None:
        if getattr(ctx, "model_name", None) != "reference":
            raise ValueError(
                "the explainer method needs an Explainer trained for this model: pass "
                "options['explainer'] = a checkpoint path (train one with `captum-nas "
                "train-explainer`); one is shipped only for model 'reference'"
            )
        return ExplainerAttribution(model, shipped_explainer())
    return ExplainerAttribution(model, load_explainer(path))
