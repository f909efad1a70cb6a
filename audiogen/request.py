"""`RenderRequest`: the one option schema that the CLI, the Python API and (later) batch recipes
share. Each field carries its CLI flag and help; `RenderRequest.create` validates and resolves."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from audiogen.errors import AudiogenError, RequestError

AUDIO_FORMATS = ("wav", "flac", "mp3")
SAMPLE_RATES = (48000, 44100)
DEFAULT_KIT = "acoustic"
LOUDNESS_HELP = (
    "streaming|youtube (-14 LUFS), podcast (-16), broadcast (-23), bed (-26), a platform "
    "(spotify, apple-podcasts, ebu-r128, atsc-a85, ...), or a LUFS value"
)
MAX_FADE_S = 60.0
# What a use sets when it is chosen; options given explicitly win over these.
USE_PRESETS: MappingProxyType[str, MappingProxyType[str, Any]] = MappingProxyType(
    {
        "video": MappingProxyType({"loop": True, "loudness": "youtube", "sample_rate": 48000}),
        "podcast": MappingProxyType({"loudness": "podcast", "formats": ("wav", "mp3")}),
        "bed": MappingProxyType({"mix": "bed", "loudness": "bed", "formats": ("wav", "mp3")}),
        "streaming": MappingProxyType({"loudness": "streaming"}),
        "broadcast": MappingProxyType({"loudness": "broadcast", "sample_rate": 48000}),
    }
)
PRESET_HELP = (
    "what the beat is for: video (a seamless loop, -14 LUFS, 48 kHz), podcast (-16 LUFS, "
    "wav+mp3), bed (under speech: soft, dull, -26 LUFS), streaming, broadcast"
)


def _opt(default: Any, help: str, metavar: str | None = None, **extra: Any) -> Any:
    return field(default=default, metadata={"help": help, "metavar": metavar, **extra})


@dataclass(frozen=True)
class RenderRequest:
    """Everything that decides how a score becomes audio. Build with `create` to validate."""

    preset: str | None = _opt(None, PRESET_HELP, "USE")
    kit: str = _opt(DEFAULT_KIT, "drum kit to play (see `audiogen kits`)", "NAME")
    mix: str | None = _opt(
        None, "mix preset: acoustic, electronic, hiphop or bed (default: the kit's style)", "MIX"
    )
    loudness: str = _opt("streaming", LOUDNESS_HELP, "TARGET")
    loop: bool = _opt(
        False,
        "a seamless loop of exactly the bars, tails wrapped to the start, loop points and tempo "
        "in the WAV (default with --preset video)",
        kind="switch",
    )
    fade_in_s: float = _opt(0.0, "fade in over the first S seconds", "S", flag="--fade-in")
    fade_out_s: float = _opt(0.0, "fade out over the last S seconds", "S", flag="--fade-out")
    sample_rate: int = _opt(48000, "48000 or 44100", "HZ")
    formats: tuple[str, ...] = _opt(
        ("wav",), "audio formats, comma-separated: wav (24-bit), flac, mp3", "LIST", flag="--format"
    )
    seed: int = _opt(0, "seed for per-hit variation: same seed, same audio", "N")
    note_map: str = _opt("auto", "MIDI note map: auto, gm or td11 (Roland TD-11)", "MAP")

    @classmethod
    def create(cls, fallback: Mapping[str, Any] | None = None, **values: Any) -> RenderRequest:
        """Validate user values (strings from a CLI are fine) and fill in the defaults.

        Args:
            fallback: defaults that come before the preset's (a genre's kit and mix).
            **values: the options set; None means unset.

        Raises:
            RequestError, KitError, MixError: one line saying what is accepted.
        """
        values = _known_values(cls, values)
        preset = values.get("preset")
        if preset is not None:
            preset = str(preset).strip().lower()
            if preset not in USE_PRESETS:
                raise RequestError(
                    f"unknown preset {values['preset']!r}; use {', '.join(USE_PRESETS)}"
                )
            values = {**USE_PRESETS[preset], **values, "preset": preset}
        values = {**_known_values(cls, dict(fallback or {})), **values}
        req = cls(**values)
        return req._resolved()

    def _resolved(self) -> RenderRequest:
        from audiogen.kits import load_kit
        from audiogen.midi import NOTE_MAP_CHOICES
        from audiogen.mix import MIX_PRESETS, resolve_loudness

        kit = load_kit(str(self.kit).strip().lower())
        mix = (self.mix or kit.style).strip().lower()
        if mix not in MIX_PRESETS:
            raise RequestError(f"unknown mix preset {mix!r}; use {', '.join(MIX_PRESETS)}")
        name, target_lufs = resolve_loudness(self.loudness)
        loudness = name if name != "custom" else f"{target_lufs:g}"
        try:
            rate = int(self.sample_rate)
        except (TypeError, ValueError):
            rate = -1
        if rate not in SAMPLE_RATES:
            raise RequestError(f"sample rate {self.sample_rate!r}: use 48000 or 44100")
        formats = self.formats
        if isinstance(formats, str):
            formats = tuple(p.strip().lower() for p in formats.split(",") if p.strip())
        bad = [f for f in formats if f not in AUDIO_FORMATS]
        if bad or not formats:
            raise RequestError(f"unknown format {bad[0] if bad else ''!r}; use wav, flac, mp3")
        try:
            seed = int(self.seed)
        except (TypeError, ValueError):
            seed = -1
        if not 0 <= seed < 2**32:
            raise RequestError(f"seed {self.seed!r}: use a whole number from 0 to 4294967295")
        if self.note_map not in NOTE_MAP_CHOICES:
            raise RequestError(f"note map {self.note_map!r}: use {', '.join(NOTE_MAP_CHOICES)}")
        loop = _switch("loop", self.loop)
        fade_in = _number("fade in", self.fade_in_s, 0, MAX_FADE_S)
        fade_out = _number("fade out", self.fade_out_s, 0, MAX_FADE_S)
        if loop and (fade_in or fade_out):
            raise RequestError(
                "fades and --loop do not go together: a loop has no start or end to fade "
                "(drop the fades, or pass --no-loop)"
            )
        return dataclasses.replace(
            self,
            kit=kit.name,
            mix=mix,
            loudness=loudness,
            sample_rate=rate,
            formats=tuple(dict.fromkeys(formats)),
            seed=seed,
            loop=loop,
            fade_in_s=fade_in,
            fade_out_s=fade_out,
        )

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["formats"] = list(self.formats)
        return out


def cli_fields() -> list[dataclasses.Field]:
    """The request's fields, for the CLI to turn into flags."""
    return list(dataclasses.fields(RenderRequest))


def check_source(path: str | Path) -> Path:
    """A MIDI path given by a user, checked before any work starts."""
    path = Path(path)
    if not path.exists():
        raise AudiogenError(f"{path}: no such file")
    if path.is_dir():
        raise AudiogenError(f"{path} is a folder: give a .mid file")
    return path


FEEL_ALIASES = {
    "straight": "straight",
    "swing8": "swing8", "swung-8ths": "swing8", "swing": "swing8", "shuffle": "swing8",
    "swing16": "swing16", "swung-16ths": "swing16",
    "triplet": "triplet", "triplets": "triplet",
}  # fmt: skip
PLAN_METERS = ("4/4", "3/4", "6/8", "12/8")
POLY_LANES = ("kick", "snare", "hats", "cymbals", "toms", "perc")


@dataclass(frozen=True)
class PlanOptions:
    """What to write: the planner's controls. Unset fields take the genre's defaults."""

    genre: str = _opt("hip-hop", "genre (see `audiogen genres`)", "NAME")
    bpm: float | None = _opt(None, "tempo, 40-300 (default: the genre's)", "BPM")
    bars: int = _opt(8, "length in bars, 1-256", "N")
    energy: float = _opt(0.5, "0 (sparse, soft) to 1 (dense, hard)", "0-1")
    feel: str | None = _opt(None, "straight, swing8, swing16 or triplet (default: genre's)", "FEEL")
    swing: float | None = _opt(None, "swing amount, 0.5 (straight) to 0.75", "0.5-0.75")
    syncopation: float | None = _opt(None, "0 (on the beat) to 1 (off-beat); default: free", "0-1")
    polyrhythm: str | None = _opt(None, "a cross-rhythm: 3:4, 2:3, 3:2 or 4:3", "A:B")
    on: str = _opt("perc", "lane for the cross-rhythm: kick snare hats cymbals toms perc", "LANE")
    meter: str | None = _opt(None, "4/4, 3/4, 6/8 or 12/8 (default: the genre's)", "METER")
    temperature: float = _opt(0.9, "sampling temperature, 0.1-2 (lower: safer)", "T")
    humanize: float = _opt(
        1.0, "humanizer amount: 0 (quantised) to 1 (played as learned from drummers)", "0-1"
    )

    @classmethod
    def create(cls, **values: Any) -> tuple[PlanOptions, Any]:
        """Validate and fill genre defaults. Returns the options and the resolved `Genre`."""
        from audiogen.planner.genres import resolve_genre

        values = _known_values(cls, values)
        opts = cls(**values)
        genre = resolve_genre(str(opts.genre))
        bpm = _number("bpm", opts.bpm if opts.bpm is not None else genre.default_bpm, 40, 300)
        bars = int(_number("bars", opts.bars, 1, 256, whole=True))
        energy = _number("energy", opts.energy, 0, 1)
        feel = FEEL_ALIASES.get(str(opts.feel or genre.feels[0]).strip().lower())
        if feel is None:
            raise RequestError(f"feel {opts.feel!r}: use straight, swing8, swing16 or triplet")
        default_swing = genre.default_swing if feel in ("swing8", "swing16") else 0.5
        swing = _number("swing", opts.swing if opts.swing is not None else default_swing, 0.5, 0.75)
        sync = None if opts.syncopation is None else _number("syncopation", opts.syncopation, 0, 1)
        meter = str(opts.meter or genre.meters[0]).strip()
        if meter not in PLAN_METERS:
            raise RequestError(f"meter {meter!r}: use {', '.join(PLAN_METERS)}")
        poly = opts.polyrhythm
        if poly is not None:
            from audiogen.planner.generate import POLYRHYTHMS

            poly = str(poly).strip()
            if poly not in POLYRHYTHMS:
                raise RequestError(f"polyrhythm {poly!r}: use {', '.join(POLYRHYTHMS)}")
        lane = str(opts.on).strip().lower()
        if lane not in POLY_LANES:
            raise RequestError(f"lane {opts.on!r} for --on: use {', '.join(POLY_LANES)}")
        temperature = _number("temperature", opts.temperature, 0.1, 2.0)
        humanize = _number("humanize", opts.humanize, 0, 1)
        resolved = dataclasses.replace(
            opts, genre=genre.name, bpm=bpm, bars=bars, energy=energy, feel=feel, swing=swing,
            syncopation=sync, polyrhythm=poly, on=lane, meter=meter, temperature=temperature,
            humanize=humanize,
        )  # fmt: skip
        return resolved, genre

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _known_values(cls: type, values: dict[str, Any]) -> dict[str, Any]:
    """The options a user set (None means unset), refusing names the schema does not have."""
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise RequestError(f"unknown option {unknown[0]!r}; options: {', '.join(sorted(known))}")
    return {k: v for k, v in values.items() if v is not None}


def _number(name: str, value: Any, low: float, high: float, whole: bool = False) -> float:
    try:
        number = float(value)
    except (TypeError, ValueError):
        number = math.nan
    if not low <= number <= high or (whole and number != int(number)):
        kind = "a whole number" if whole else "a number"
        raise RequestError(f"{name} {value!r}: use {kind} from {low:g} to {high:g}")
    return int(number) if whole else number


def _switch(name: str, value: Any) -> bool:
    """A yes/no option from Python, a CLI or a recipe (true/false, yes/no, on/off, 1/0)."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in ("true", "yes", "on", "1"):
        return True
    if text in ("false", "no", "off", "0"):
        return False
    raise RequestError(f"{name} {value!r}: use true or false")


def plan_fields() -> list[dataclasses.Field]:
    return list(dataclasses.fields(PlanOptions))
