"""Interpretation by relevant internal features (Oramas et al., ICLR 2019).

* :class:`ChannelEnergy`: per-image channel-energy feature vectors at chosen layers.
* :class:`RelevantFeatureSelector`: lasso from those vectors to the classes; the
  relevant features of a class are the channels with positive weight.
* :class:`RelevantFeatures`: a Captum ``Attribution`` that back-projects an image's
  top relevant channels to pixels.
* :func:`interpretation_figure`: the average visualisation of each relevant feature.
"""

from captum_nas.interpretation.attribution import (
    RelevantFeatures,
    load_selector,
    shipped_selector_path,
    stride_fix,
)
from captum_nas.interpretation.features import ChannelEnergy, FeatureLayout
from captum_nas.interpretation.figures import FeatureView, feature_views, interpretation_figure
from captum_nas.interpretation.lasso import LassoFit, lasso
from captum_nas.interpretation.selector import (
    NotFittedError,
    RelevantFeature,
    RelevantFeatureSelector,
)

__all__ = [
    "ChannelEnergy",
    "FeatureLayout",
    "FeatureView",
    "LassoFit",
    "NotFittedError",
    "RelevantFeature",
    "RelevantFeatureSelector",
    "RelevantFeatures",
    "feature_views",
    "interpretation_figure",
    "lasso",
    "load_selector",
    "shipped_selector_path",
    "stride_fix",
]
