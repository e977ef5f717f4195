"""Reference models: the small flower classifier, its training and its checkpoints."""

from captum_nas.models.reference import (
    DEFAULT_WIDTHS,
    FlowerCNN,
    load_reference,
    reference_checkpoint_info,
    reference_checkpoint_path,
    reference_model,
)
from captum_nas.models.training import (
    TrainingHistory,
    evaluate_accuracy,
    save_reference,
    train_reference,
)

__all__ = [
    "DEFAULT_WIDTHS",
    "FlowerCNN",
    "TrainingHistory",
    "evaluate_accuracy",
    "load_reference",
    "reference_checkpoint_info",
    "reference_checkpoint_path",
    "reference_model",
    "save_reference",
    "train_reference",
]
