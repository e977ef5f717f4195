"""Captum attributions pooled over superpixels (NAS by default)."""

from captum_nas.attr.methods import (
    NASLRP,
    CaptumSuperpixelMethod,
    NASDeconvolution,
    NASDeepLift,
    NASDeepLiftShap,
    NASGradCam,
    NASGradientShap,
    NASGuidedBackprop,
    NASGuidedGradCam,
    NASInputXGradient,
    NASIntegratedGradients,
    NASOcclusion,
    NASSaliency,
)
from captum_nas.attr.perturbation import (
    NASFeatureAblation,
    NASKernelShap,
    NASLime,
    NASShapleyValueSampling,
    TorchLinearRegression,
)
from captum_nas.attr.result import AttributionResult, TopSegments
from captum_nas.attr.superpixel import SuperpixelAttribution, expand_segments

__all__ = [
    "NASLRP",
    "AttributionResult",
    "CaptumSuperpixelMethod",
    "NASDeconvolution",
    "NASDeepLift",
    "NASDeepLiftShap",
    "NASFeatureAblation",
    "NASGradCam",
    "NASGradientShap",
    "NASGuidedBackprop",
    "NASGuidedGradCam",
    "NASInputXGradient",
    "NASIntegratedGradients",
    "NASKernelShap",
    "NASLime",
    "NASOcclusion",
    "NASSaliency",
    "NASShapleyValueSampling",
    "SuperpixelAttribution",
    "TopSegments",
    "TorchLinearRegression",
    "expand_segments",
]
