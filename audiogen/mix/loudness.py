"""Where `api.py` and `loop.py` still import three loudness names from; they live in `targets`
and `normalization` now. Delete this once those two import them from `audiogen.mix`."""

from audiogen.mix.normalization import warn_if_flattened
from audiogen.mix.targets import MAX_MISS_LU, TOLERANCE_LU

__all__ = ["MAX_MISS_LU", "TOLERANCE_LU", "warn_if_flattened"]
