"""The codec's training material, made on the fly by the sampler.

Every stem group of real performances (Groove train split) and of the style library, through
every kit but the held-out one, with augmentation: per-hit gain and tuning spread, a random tempo
stretch, clip gain, EQ, a little room or saturation (the effects the mix chains apply), plus
isolated hits at all velocities. Clips are mono, ``segment_s`` long, at the codec's rate.
"""

from __future__ import annotations

import dataclasses
import pickle
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from audiogen.instruments import GROUPS
from audiogen.kits import kit_names, load_kit
from audiogen.planner.bars import Phrase, phrase_to_score
from audiogen.planner.library import load_library
from audiogen.renderers.sampler import Sampler, Variation
from audiogen.score import MAX_BPM, MIN_BPM, DrumScore, Hit, Meter
from audiogen.training.groove import load_groove

HELD_OUT_KIT = "lofi"  # never heard in training: the codec's test of an unseen kit
ISOLATED_SHARE = 0.15  # clips of single hits across the whole velocity range
SILENT_SHARE = 0.03  # some near-silent clips, so silence stays silent
SILENCE_RMS = 10 ** (-70 / 20)


def training_kits() -> tuple[str, ...]:
    return tuple(k for k in kit_names() if k != HELD_OUT_KIT)


@dataclass
class ClipMaker:
    """Makes training clips from phrases; one per process (it caches decoded samples).

    Args:
        phrases: the material (Groove train split + style library).
        kits: kit names to play it through.
        sample_rate: the codec's rate.
        segment_s: clip length.
        augment: gain/EQ/room/saturation/tuning augmentation (off for evaluation material).
        emphasis: stem group → how many times more clips it gives than the others (1 for a
            group not named): a group the codec plays worst can be heard more often.
    """

    phrases: Sequence[Phrase]
    kits: Sequence[str]
    sample_rate: int = 32000
    segment_s: float = 1.0
    augment: bool = True
    emphasis: Mapping[str, int] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self._samplers: dict[str, Sampler] = {}
        self._segment = round(self.segment_s * self.sample_rate)

    def clips(self, seed: int) -> Iterator[np.ndarray]:
        """An endless stream of float32 clips [segment], deterministic under ``seed``."""
        rng = np.random.default_rng(seed)
        while True:
            for _, clip in self.clips_of_one_render(rng):
                yield clip

    def _sampler(self, kit: str) -> Sampler:
        if kit not in self._samplers:
            variation = Variation(1.0, 40.0) if self.augment else Variation()
            self._samplers[kit] = Sampler(load_kit(kit), self.sample_rate, variation)
        return self._samplers[kit]

    def clips_of_one_render(self, rng: np.random.Generator) -> list[tuple[str, np.ndarray]]:
        """The clips cut from one render of a random excerpt: (stem group, clip) pairs."""
        kit = self.kits[int(rng.integers(len(self.kits)))]
        sampler = self._sampler(kit)
        if rng.random() < ISOLATED_SHARE:
            score = isolated_hits(sorted(sampler.kit.instruments), rng)
        else:
            phrase = self.phrases[int(rng.integers(len(self.phrases)))]
            score = excerpt(phrase, rng, stretch=self.augment)
        stems = sampler.render(score, seed=int(rng.integers(2**31))).stems
        clips = []
        for group in sorted(stems):
            audio = stems[group]
            if self.augment:
                audio = augment(audio, self.sample_rate, rng)
            for _ in range(2 * self.emphasis.get(group, 1)):
                clip = self._cut(audio, rng)
                if clip is not None:
                    clips.append((group, clip))
        return clips

    def _cut(self, audio: np.ndarray, rng: np.random.Generator) -> np.ndarray | None:
        n = self._segment
        if len(audio) < n:
            audio = np.pad(audio, (0, n - len(audio)))
        start = int(rng.integers(len(audio) - n + 1))
        clip = audio[start : start + n]
        if np.sqrt(np.mean(clip**2)) < SILENCE_RMS and rng.random() > SILENT_SHARE:
            return None
        return np.ascontiguousarray(clip, dtype=np.float32)


def parse_emphasis(items: Sequence[str]) -> dict[str, int]:
    """``["cymbals=3"]`` → ``{"cymbals": 3}``, for `ClipMaker.emphasis`.

    Raises:
        ValueError: one line naming what is wrong (an unknown group, a count under 1).
    """
    emphasis = {}
    for item in items:
        group, _, count = item.partition("=")
        if group not in GROUPS:
            raise ValueError(f"--emphasis {item}: the stem groups are {', '.join(GROUPS)}")
        if not count.isdigit() or int(count) < 1:
            raise ValueError(f"--emphasis {item}: give a whole number of at least 1 ({group}=3)")
        emphasis[group] = int(count)
    return emphasis


def excerpt(
    phrase: Phrase, rng: np.random.Generator, bars: int = 2, stretch: bool = True
) -> DrumScore:
    """Up to ``bars`` bars of ``phrase`` from a random bar, optionally at a stretched tempo."""
    first = int(rng.integers(max(1, len(phrase.bars) - bars + 1)))
    part = dataclasses.replace(phrase, bars=phrase.bars[first : first + bars])
    score = phrase_to_score(part)
    if stretch:
        bpm = float(np.clip(score.bpm * 2 ** rng.uniform(-0.3, 0.3), MIN_BPM, MAX_BPM))
        score = score.replace(bpm=bpm)
    return score


def isolated_hits(instruments: Sequence[str], rng: np.random.Generator) -> DrumScore:
    """A bar or two of one instrument, hits far apart, velocities spread over 1-127."""
    instrument = instruments[int(rng.integers(len(instruments)))]
    bpm = float(rng.uniform(70, 140))
    step = int(rng.choice((12, 24, 48)))  # 8ths, quarters or halves apart
    ticks = range(0, 2 * 96, step)
    velocities = rng.integers(1, 128, size=len(ticks))
    hits = tuple(Hit(t, instrument, int(v)) for t, v in zip(ticks, velocities))
    return DrumScore(bpm=bpm, meter=Meter(4, 4), bars=2, hits=hits)


def augment(audio: np.ndarray, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """Clip gain, random EQ, and sometimes room or saturation, as the mix chains would add."""
    import pedalboard as pb

    effects: list[pb.Plugin] = [
        pb.LowShelfFilter(cutoff_frequency_hz=float(rng.uniform(60, 300)),
                          gain_db=float(rng.uniform(-6, 6))),
        pb.PeakFilter(cutoff_frequency_hz=float(np.exp(rng.uniform(np.log(200), np.log(8000)))),
                      gain_db=float(rng.uniform(-6, 6)), q=float(rng.uniform(0.5, 2.0))),
        pb.HighShelfFilter(cutoff_frequency_hz=float(rng.uniform(3000, 10000)),
                           gain_db=float(rng.uniform(-8, 6))),
    ]  # fmt: skip
    if rng.random() < 0.2:
        room = float(rng.uniform(0.1, 0.5))
        effects.append(pb.Reverb(room_size=room, wet_level=float(rng.uniform(0.05, 0.25))))
    if rng.random() < 0.15:
        effects.append(pb.Distortion(drive_db=float(rng.uniform(2, 12))))
    out = pb.Pedalboard(effects)(audio[None, :], sample_rate)[0]
    out *= 10 ** (rng.uniform(-18, 3) / 20)
    peak = float(np.abs(out).max())
    if peak > 0.99:
        out *= 0.99 / peak
    return out.astype(np.float32)



def material(groove_root: Path, phrases_file: Path | None = None) -> list[Phrase]:
    """Groove train split + style library (2 variations each), or the pickle that
    ``pipelines/train_codec.py --save-phrases`` wrote (for a machine without the dataset)."""
    if phrases_file is not None:
        return pickle.loads(phrases_file.read_bytes())
    return load_groove(groove_root, ("train",)) + load_library(seed=0, variants=2)
