"""Synthetic data sets with ground truth for judging explanations."""

from captum_nas.datasets.flowers import (
    CLASS_COLOURS,
    CLASS_NAMES,
    DECIDING_PARTS,
    FLOWERS_NORMALIZER,
    NUISANCE_PALETTE,
    PART_NAMES,
    SPLITS,
    VARIANTS,
    FlowerBatch,
    FlowersDataset,
    class_colours,
    denormalize,
    n_classes,
    render_flowers,
)

__all__ = [
    "CLASS_COLOURS",
    "CLASS_NAMES",
    "DECIDING_PARTS",
    "FLOWERS_NORMALIZER",
    "NUISANCE_PALETTE",
    "PART_NAMES",
    "SPLITS",
    "VARIANTS",
    "FlowerBatch",
    "FlowersDataset",
    "class_colours",
    "denormalize",
    "n_classes",
    "render_flowers",
]
