"""Former home of the metrics' helpers; kept so that existing imports keep working.

The helpers now live in :mod:`captum_nas.metrics._checks` (maps, masks, thresholds),
:mod:`captum_nas.metrics._boxes` (boxes) and :mod:`captum_nas.segmentation.connectivity`
(connected components of binary masks: ``mask_components``, ``label_mask_components``).
Import from those in new code.
"""

from __future__ import annotations

from captum_nas.metrics import _boxes, _checks
from captum_nas.metrics._boxes import *  # noqa: F403
from captum_nas.metrics._checks import *  # noqa: F403

__all__ = [*_checks.__all__, *_boxes.__all__]
