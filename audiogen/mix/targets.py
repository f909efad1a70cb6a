"""Loudness targets of the mix stage: the presets, the platforms' reference levels, their
true-peak ceilings, and how near a delivered beat must land to have reached one."""

from __future__ import annotations

import math
import re
from types import MappingProxyType

from audiogen.errors import MixError

# Integrated-loudness targets; all share DEFAULT_CEILING_DBTP, which EBU R128 also allows.
# "bed" is music meant to sit under speech: 10 LU under a podcast voice at -16 LUFS.
LOUDNESS_PRESETS: MappingProxyType[str, float] = MappingProxyType(
    {"streaming": -14.0, "youtube": -14.0, "podcast": -16.0, "broadcast": -23.0, "bed": -26.0}
)
# Where each platform normalises playback (its published reference level), so a beat delivered
# there is not turned down or up. Names a user may type for --loudness besides the presets.
PLATFORM_LOUDNESS: MappingProxyType[str, float] = MappingProxyType(
    {
        "spotify": -14.0,
        "tidal": -14.0,
        "amazon-music": -14.0,
        "tiktok": -14.0,
        "instagram": -14.0,
        "deezer": -15.0,
        "apple-music": -16.0,
        "apple-podcasts": -16.0,
        "spotify-podcasts": -14.0,
        "ebu-r128": -23.0,
        "atsc-a85": -24.0,
    }
)
DEFAULT_CEILING_DBTP = -1.0
# Targets whose standard asks for a lower true-peak ceiling than DEFAULT_CEILING_DBTP.
_CEILINGS_DBTP = MappingProxyType({"atsc-a85": -2.0})
CUSTOM_LUFS_RANGE: tuple[float, float] = (-40.0, -6.0)

# How far under its target a beat may be delivered when reaching the target would crush its
# hits. Streaming and video platforms turn loud tracks down and quiet ones not up (only as far
# as their peaks allow), so a punchy beat a little under -14 LUFS plays as it is: no limit.
# Podcast apps expect -16 LUFS within 1 LU (Apple's tolerance): a podcast beat may fall 1 LU
# short, then the limiter goes deeper. Broadcast (EBU R128, ATSC A/85) must land on its target.
# A bed under speech may be quieter. Names not listed (platforms, custom numbers) stop short.
MAX_SHORTFALL_LU: MappingProxyType[str, float] = MappingProxyType(
    {
        "podcast": 1.0,
        "apple-podcasts": 1.0,
        "spotify-podcasts": 1.0,
        "broadcast": 0.0,
        "ebu-r128": 0.0,
        "atsc-a85": 0.0,
    }
)

# normalize() aims within TOLERANCE_LU of the target and refuses to deliver beyond MAX_MISS_LU.
TOLERANCE_LU = 0.1
MAX_MISS_LU = 0.5


def resolve_loudness(value: str | float) -> tuple[str, float]:
    """Turn a loudness preset name or a custom LUFS value into ``(name, target_lufs)``.

    Args:
        value: a preset name ("streaming", "youtube", "podcast", "broadcast", "bed"), a
            platform from ``PLATFORM_LOUDNESS`` ("spotify", "apple-podcasts", ...) or a number
            of LUFS between -40 and -6, given as a number or as text ("-18", "-18 LUFS").

    Returns:
        The preset name (``"custom"`` for a number) and its integrated-loudness target in LUFS.

    Raises:
        MixError: for an unknown name, unreadable text or a value out of range.
    """
    if isinstance(value, str):
        text = value.strip().lower()
        if text in LOUDNESS_PRESETS:
            return text, LOUDNESS_PRESETS[text]
        if text in PLATFORM_LOUDNESS:
            return text, PLATFORM_LOUDNESS[text]
        match = re.fullmatch(r"([+-]?\d+(?:\.\d*)?|[+-]?\.\d+)\s*(?:lufs|lkfs)?", text)
        if match is None:
            raise MixError(f"unknown loudness {value!r}: {_accepted_loudness()}")
        target = float(match.group(1))
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        target = float(value)
    else:
        raise MixError(f"unknown loudness {value!r}: {_accepted_loudness()}")
    low, high = CUSTOM_LUFS_RANGE
    if not low <= target <= high:  # also refuses NaN
        raise MixError(f"a loudness of {target:g} LUFS is out of range: {_accepted_loudness()}")
    return "custom", target


def loudness_ceiling(name: str) -> float:
    """The true-peak ceiling in dBTP that goes with a resolved loudness name."""
    return _CEILINGS_DBTP.get(name, DEFAULT_CEILING_DBTP)


def loudness_shortfall(name: str) -> float:
    """How far under its target (LU) a beat delivered for a resolved loudness name may stop."""
    return MAX_SHORTFALL_LU.get(name, math.inf)


def _accepted_loudness() -> str:
    presets = ", ".join(f"{name} ({lufs:g} LUFS)" for name, lufs in LOUDNESS_PRESETS.items())
    low, high = CUSTOM_LUFS_RANGE
    return (
        f"use a preset: {presets}; a platform: {', '.join(PLATFORM_LOUDNESS)}; or a number of "
        f"LUFS from {low:g} to {high:g}, e.g. '-18 LUFS'"
    )
