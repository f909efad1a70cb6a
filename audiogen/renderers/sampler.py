"""The one-shot sampler: places a kit's samples at every hit of a `DrumScore`, one mono stem per
group. Exact and fast; it is also what makes the neural renderer's training data."""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from audiogen.audio import SAMPLE_RATES
from audiogen.codec.config import CodecConfig
from audiogen.errors import KitError, RequestError
from audiogen.instruments import CHOKES, GROUP_OF
from audiogen.kits import VELOCITY_RANGE_DB, Kit, Layer
from audiogen.kits.cache import read_mono
from audiogen.renderers.result import RenderResult
from audiogen.score import DrumScore, Hit
from audiogen.scratch import release, track

log = logging.getLogger(__name__)

# Users get SAMPLE_RATES; the codec's training material is made at the codec's own rate.
RENDER_RATES = (*SAMPLE_RATES, CodecConfig.sample_rate)
MAX_TAIL_S = 3.0
MAX_DURATION_S = 30 * 60.0  # longer is almost surely a broken file (and is minutes of work)
CHOKE_FADE_MS = 8.0  # a hand on the cymbal damps it in a few ms, not instantly
# A hit half-way between two samples starts on the later one, in whichever bar or pass it falls:
# rounded as computed, float error put such hits (every other 16th note at 200 bpm and 44.1 kHz)
# on either side by their place in the song, so a bar repeated later did not repeat to the sample.
TIE_SAMPLES = 1e-6
_VOICES_PER_RELEASE = 256  # a long beat's stems hand their pages back this often


@dataclass(frozen=True)
class Variation:
    """How much repeated hits differ (a real drum never sounds twice the same)."""

    gain_db: float = 0.4  # standard deviation, clipped at ±2.5 σ
    pitch_cents: float = 6.0

    @classmethod
    def none(cls) -> Variation:
        return cls(0.0, 0.0)


def velocity_gain(velocity: int, range_db: float = VELOCITY_RANGE_DB) -> float:
    """Linear gain of a hit at ``velocity`` relative to one at 127, ``range_db`` down per
    decade of velocity."""
    return 10.0 ** (range_db * math.log10(velocity / 127) / 20.0)


def pick_layer(layers: tuple[Layer, ...], velocity: int) -> Layer:
    """The softest layer recorded at or above ``velocity`` (else the loudest): scaling down
    from a harder hit keeps its attack, scaling up a soft one would sound dull and loud."""
    for layer in layers:
        if layer.velocity >= velocity:
            return layer
    return layers[-1]


class Sampler:
    """Renders scores with one kit at one sample rate; keeps the kit's audio loaded.

    Args:
        kit: the kit to play.
        sample_rate: 48000 (default) or 44100.
        variation: per-hit gain and pitch variation; ``Variation.none()`` for identical hits.
    """

    def __init__(self, kit: Kit, sample_rate: int = 48000, variation: Variation | None = None):
        if sample_rate not in RENDER_RATES:
            rates = " or ".join(map(str, SAMPLE_RATES))
            raise RequestError(f"sample rate {sample_rate}: use {rates}")
        self.kit = kit
        self.sample_rate = sample_rate
        self.variation = variation if variation is not None else Variation()
        self._audio: dict[Path, np.ndarray] = {}
        self._peaks: dict[Path, float] = {}  # each sample's peak, read once (asked per hit)

    def _load(self, path: Path) -> np.ndarray:
        if path not in self._audio:
            try:
                self._audio[path] = read_mono(path, self.sample_rate)
            except (OSError, RuntimeError, sf.LibsndfileError) as exc:
                label = self.kit.labels.get(path, path.name)
                raise KitError(f"kit {self.kit.name}: cannot read {label} ({exc})") from None
        return self._audio[path]

    def _peak(self, path: Path) -> float:
        if path not in self._peaks:
            audio = self._load(path)
            self._peaks[path] = max(float(np.max(audio)), -float(np.min(audio)), 1e-6)
        return self._peaks[path]

    def render(
        self, score: DrumScore, seed: int = 0, loop_samples: int | None = None
    ) -> RenderResult:
        """Render every hit of ``score``; deterministic for a given seed.

        Args:
            score: what to play.
            seed: the per-hit variation's seed.
            loop_samples: the length of a seamless loop that ``score`` is one pass of (see
                `audiogen.loop.loop_length`), or None. A loop plays on, as on every other bar:
                a hit played ahead of its first beat sounds at the loop's end, where the
                previous pass plays it, and a hat still ringing at the end is choked by the
                next pass's first stroke.
        """
        if score.duration_s > MAX_DURATION_S:
            raise RequestError(
                f"the score lasts {score.duration_s / 60:.0f} minutes: audiogen renders up to "
                f"{MAX_DURATION_S / 60:.0f} minutes at a time"
            )
        rng = np.random.default_rng(seed)
        sr = self.sample_rate
        played: list[tuple[Hit, str, int]] = []  # hit, class the kit plays, start sample
        substitutions: dict[str, str] = {}
        dropped: Counter[str] = Counter()
        for hit in score.hits:
            resolved = self.kit.resolve(hit.instrument)
            if resolved is None:
                dropped[hit.instrument] += 1
                continue
            if resolved != hit.instrument:
                substitutions[hit.instrument] = resolved
            start = math.floor(score.time_s(hit) * sr + 0.5 + TIE_SAMPLES)
            start = start % loop_samples if loop_samples else max(0, start)
            played.append((hit, resolved, start))
        if substitutions and self.kit.user:
            log.warning(
                "kit %s plays %s", self.kit.title,
                ", ".join(f"{k} with {v}" for k, v in sorted(substitutions.items())),
            )  # fmt: skip
        if dropped:
            log.warning(
                "kit %s has nothing for %s: those hits are silent",
                self.kit.name, ", ".join(f"{k} ({n} hits)" for k, n in sorted(dropped.items())),
            )  # fmt: skip

        chokes = _choke_points(played, loop_samples, self.kit.chokes)
        # Each voice is its sample's path and how to play it, not a copy of its audio: memory
        # grows with the song's length, not with its number of notes.
        voices: list[tuple[str, int, Path, float, float, int | None]] = []
        used: set[Path] = set()
        for index, (hit, resolved, start) in enumerate(played):
            spec = self.kit.instruments[resolved]
            layer = pick_layer(spec.layers, hit.velocity)
            picks = (
                range(len(layer.files)) if layer.layered
                else (int(rng.integers(len(layer.files))),)
            )  # fmt: skip
            vary_db = float(np.clip(rng.normal(0, 1), -2.5, 2.5)) * self.variation.gain_db
            cents = float(np.clip(rng.normal(0, 1), -2.5, 2.5)) * self.variation.pitch_cents
            if self.kit.as_recorded:  # the instrument's own levels, its format's velocity curve
                range_db = next((r for r in (spec.velocity_range_db, self.kit.velocity_range_db)
                                 if r is not None), VELOCITY_RANGE_DB)  # fmt: skip
                curve = velocity_gain(hit.velocity, range_db)
            else:
                curve = velocity_gain(hit.velocity)
            for pick in picks:
                path = layer.files[pick]
                used.add(path)
                gain_db = spec.gain_db + layer.gain_db(pick) + vary_db
                # Layers change the timbre; a pack's level follows one velocity curve from the
                # hardest layer, so loudness rises with velocity even across a layer boundary.
                level = (
                    1.0 if self.kit.as_recorded
                    else self._peak(spec.layers[-1].files[0]) / self._peak(path)
                )  # fmt: skip
                gain = curve * level * 10.0 ** (gain_db / 20.0)
                voice_cents = cents + layer.cents_of(pick)
                voices.append(
                    (GROUP_OF[hit.instrument], start, path, voice_cents, gain, chokes.get(index))
                )

        nominal = round(score.duration_s * sr)
        ring = max(
            (start + _repitched_length(len(self._load(path)), cents)
             for _, start, path, cents, _, _ in voices),
            default=nominal,
        )  # fmt: skip
        length = max(nominal, min(ring, nominal + round(MAX_TAIL_S * sr)))
        stems: dict[str, np.ndarray] = {}
        fade = max(1, round(CHOKE_FADE_MS * sr / 1000))
        for count, (group, start, path, cents, gain, choke_at) in enumerate(voices, 1):
            if group not in stems:  # (setdefault would make a whole-track array per hit)
                stems[group] = track((length,))  # a long beat's in a scratch file
            stem = stems[group]
            sample = self._load(path)
            end = min(length, start + _repitched_length(len(sample), cents))
            choked = choke_at is not None and choke_at + fade < end
            if choke_at is not None and choked:
                end = choke_at + fade
            # Only what sounds is repitched, not the rest of a ring that is cut short.
            piece = _repitch(sample, cents, end - start) * gain
            if choked:
                piece[-fade:] *= np.linspace(1.0, 0.0, fade, dtype=np.float32)
            stem[start:end] += piece
            if count % _VOICES_PER_RELEASE == 0:  # (voices come in the score's order)
                release(*stems.values())
        release(*stems.values())
        return RenderResult(
            stems=stems,
            sample_rate=sr,
            substitutions=substitutions,
            dropped=dict(dropped),
            files_used=tuple(sorted(used)),
        )


def _choke_points(
    played: list[tuple[Hit, str, int]],
    loop_samples: int | None = None,
    chokes: Mapping[str, tuple[str, ...]] = CHOKES,
) -> dict[int, int]:
    """For each hit that a later hit chokes (an open hat then a closed one): the choke sample.
    In a loop of ``loop_samples``, the next pass's strokes choke what rings past the end."""
    # In order of sounding: offsets, and a loop's wrapped hits, can reorder the score's ticks.
    order = sorted(range(len(played)), key=lambda i: played[i][2])
    strokes: list[tuple[int | None, str, int]] = [(i, played[i][1], played[i][2]) for i in order]
    if loop_samples:
        strokes += [(None, resolved, start + loop_samples) for _, resolved, start in strokes]
    choked_by: dict[str, list[int]] = {}  # choked class -> indices still ringing
    points: dict[int, int] = {}
    for index, resolved, start in strokes:
        for victim in chokes.get(resolved, ()):
            for ringing in choked_by.pop(victim, []):
                if played[ringing][2] < start:
                    points[ringing] = start
                else:
                    choked_by.setdefault(victim, []).append(ringing)
        if index is not None:  # the next pass's strokes only choke
            choked_by.setdefault(resolved, []).append(index)
    return points


def _repitched_length(n: int, cents: float) -> int:
    """How many samples `_repitch` makes of ``n`` (without making them)."""
    if abs(cents) < 1e-3:
        return n
    return math.ceil((n - 1) / 2.0 ** (cents / 1200.0))


def _repitch(audio: np.ndarray, cents: float, count: int | None = None) -> np.ndarray:
    """Play a sample a few cents faster or slower, as a drum tuned a hair differently would be;
    sample 0 stays at sample 0, so the onset does not move. With ``count``, only the first
    ``count`` samples of that (``[:count]``), each as it is in the whole."""
    if abs(cents) < 1e-3:
        return audio[:count]
    rate = 2.0 ** (cents / 1200.0)
    positions = np.arange(0.0, len(audio) - 1, rate)[:count]
    return np.interp(positions, np.arange(len(audio)), audio).astype(np.float32)


def render_stems(
    score: DrumScore, kit: Kit, sample_rate: int = 48000, seed: int = 0
) -> RenderResult:
    """Render ``score`` with ``kit``: the one-call form of `Sampler`."""
    return Sampler(kit, sample_rate).render(score, seed=seed)
