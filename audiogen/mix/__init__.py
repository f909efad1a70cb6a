"""Mix stage: stems through preset chains into a stereo master at a loudness target."""

from audiogen.mix.chains import MIX_PRESETS, MixPreset, get_preset
from audiogen.mix.loudness import (
    DEFAULT_CEILING_DBTP,
    LOUDNESS_PRESETS,
    PLATFORM_LOUDNESS,
    LoudnessReport,
    integrated_lufs,
    limit_true_peak,
    loudness_ceiling,
    normalize,
    resolve_loudness,
    true_peak_dbtp,
)
from audiogen.mix.mixer import MixResult, mix_stems

__all__ = [
    "DEFAULT_CEILING_DBTP",
    "LOUDNESS_PRESETS",
    "MIX_PRESETS",
    "LoudnessReport",
    "MixPreset",
    "PLATFORM_LOUDNESS",
    "MixResult",
    "get_preset",
    "integrated_lufs",
    "limit_true_peak",
    "loudness_ceiling",
    "mix_stems",
    "normalize",
    "resolve_loudness",
    "true_peak_dbtp",
]
