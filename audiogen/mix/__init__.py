"""Mix stage: stems through preset chains into a stereo master at a loudness target.

`targets` names the loudness targets, `meter` measures loudness and true peak, `limiter` holds
a true-peak ceiling, `normalization` brings a master to its target with it; `chains` and
`mixer` make the master from the stems, and `drive` makes the drum bus loud before the limiter.
"""

from audiogen.mix.chains import MIX_PRESETS, MixPreset, get_preset
from audiogen.mix.drive import DriveReport
from audiogen.mix.limiter import limit_true_peak
from audiogen.mix.meter import integrated_lufs, true_peak_dbtp
from audiogen.mix.mixer import MixResult, mix_stems
from audiogen.mix.normalization import LoudnessReport, normalize, warn_about_loudness
from audiogen.mix.targets import (
    DEFAULT_CEILING_DBTP,
    LOUDNESS_PRESETS,
    MAX_MISS_LU,
    PLATFORM_LOUDNESS,
    TOLERANCE_LU,
    loudness_ceiling,
    loudness_shortfall,
    resolve_loudness,
)

__all__ = [
    "DEFAULT_CEILING_DBTP",
    "DriveReport",
    "LOUDNESS_PRESETS",
    "MAX_MISS_LU",
    "MIX_PRESETS",
    "LoudnessReport",
    "MixPreset",
    "PLATFORM_LOUDNESS",
    "MixResult",
    "TOLERANCE_LU",
    "get_preset",
    "integrated_lufs",
    "limit_true_peak",
    "loudness_ceiling",
    "loudness_shortfall",
    "mix_stems",
    "normalize",
    "resolve_loudness",
    "true_peak_dbtp",
    "warn_about_loudness",
]
