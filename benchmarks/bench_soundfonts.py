"""SoundFont kits against FluidSynth: the same MIDI through audiogen's SF2 reader and sampler and
through `fluidsynth`, for the Debian FluidR3 and MuseScore General SoundFonts.

    python benchmarks/bench_soundfonts.py
    # needs: apt-get install fluidsynth fluid-soundfont-gm musescore-general-soundfont-lossless

1. Hit by hit: every General MIDI drum note the kit plays, at velocities 40, 80 and 127, one hit
   per 1.2 s (100 bpm half notes: 57,600 samples, a multiple of FluidSynth's 64-sample block).
   FluidSynth starts every note one block (64 samples, 1.33 ms at 48 kHz) after its time, on
   the first hit as on the others: that constant is taken out of its onsets (the raw figures
   are kept). Each hit's onset (the first sample within 30 dB of the hit's peak and 10 dB over
   what still rings from the hit before) and level (RMS of its first 50 ms; FluidSynth's two
   channels as power) are compared.
   Levels are compared after taking out one overall offset (the median; FluidSynth's master
   gain and ours differ by a constant).
2. Speed: the example beats (samples/beats/*.mid), audiogen's render (the kit read, and not)
   against the fluidsynth command's wall time, as a ratio; and the kit's first read into an
   empty cache (every drum sample written out) against a read once the cache holds them.

Both at 48 kHz, no reverb or chorus, no per-hit variation. Writes
benchmarks/results/soundfonts.json and prints Markdown.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
from machine import describe_machine

from audiogen.kits import load_kit
from audiogen.kits.user import _load
from audiogen.midi import read_midi, write_midi
from audiogen.renderers import Sampler, Variation
from audiogen.score import DrumScore, Hit, Meter

REPO = Path(__file__).resolve().parents[1]
FONTS = {
    "FluidR3_GM": Path("/usr/share/sounds/sf2/FluidR3_GM.sf2"),
    "MuseScore_General": Path("/usr/share/sounds/sf2/MuseScore_General_Full.sf2"),
}
RATE = 48000
VELOCITIES = (40, 80, 127)
SPACING_S = 1.2
WINDOW_S = 0.05
FLUIDSYNTH_BLOCK = 64  # samples: when its file renderer starts a note after the note's time
BEATS = sorted((REPO / "samples" / "beats").glob("*.mid"))


def fluidsynth(font: Path, midi: Path, out: Path) -> float:
    """Render with the fluidsynth command (reverb and chorus off, float WAV); its wall time."""
    start = time.perf_counter()
    subprocess.run(
        ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-g", "0.5", "-r", str(RATE),
         "-O", "float", "-T", "wav", "-F", str(out), str(font), str(midi)],
        check=True, capture_output=True,
    )  # fmt: skip
    return time.perf_counter() - start


def hit_score(kit_classes: set[str]) -> tuple[DrumScore, list[tuple[str, int, float]]]:
    """One hit per half note at 100 bpm: each class the kit plays at each velocity."""
    from audiogen.instruments import GM_NOTE_OF


    plan = [(cls, v) for cls in GM_NOTE_OF if cls in kit_classes for v in VELOCITIES]
    hits = tuple(Hit(48 * i, cls, v) for i, (cls, v) in enumerate(plan))
    bars = (len(plan) + 1) // 2 + 1
    score = DrumScore(bpm=100.0, meter=Meter(4, 4), bars=bars, hits=hits)
    return score, [(cls, v, i * SPACING_S) for i, (cls, v) in enumerate(plan)]


def measure(audio: np.ndarray, at_s: float) -> tuple[float, float]:
    """(onset in s, level in dB) of the hit placed at ``at_s`` in a (samples, channels) array."""
    start = max(0, round((at_s - 0.01) * RATE))
    piece = audio[start : start + round((SPACING_S - 0.02) * RATE)]
    power = (piece**2).sum(axis=1)
    ringing = float(power[: round(0.008 * RATE)].mean())  # 10 to 2 ms before the hit
    threshold = max(power.max() * 10 ** (-30 / 10), ringing * 10)
    first = int(np.argmax(power >= threshold))
    onset = (start + first) / RATE
    body = power[first : first + round(WINDOW_S * RATE)]
    return onset, 10 * np.log10(max(float(body.mean()), 1e-20))


def compare_hits(name: str, font: Path, work: Path) -> dict:
    kit = load_kit(str(font))
    score, plan = hit_score(set(kit.instruments))
    midi = work / f"{name}-hits.mid"
    write_midi(score, midi)
    ours = Sampler(kit, RATE, Variation.none()).render(score)
    mix = sum(ours.stems.values())[:, None]
    theirs_path = work / f"{name}-hits.wav"
    fluidsynth(font, midi, theirs_path)
    theirs, _ = sf.read(theirs_path, dtype="float64", always_2d=True)
    rows = []
    for cls, velocity, at in plan:
        onset_a, level_a = measure(mix.astype(np.float64), at)
        onset_b, level_b = measure(theirs, at)
        rows.append({"class": cls, "velocity": velocity,
                     "onset_raw_ms": round(1000 * (onset_a - onset_b), 3),
                     "onset_ms": 1000 * (onset_a - onset_b + FLUIDSYNTH_BLOCK / RATE),
                     "level_db": level_a - level_b})  # fmt: skip
    offset = float(np.median([r["level_db"] for r in rows]))
    for r in rows:
        r["level_db"] = round(r["level_db"] - offset, 2)
        r["onset_ms"] = round(r["onset_ms"], 3)
    onsets = np.abs([r["onset_ms"] for r in rows])
    levels = np.abs([r["level_db"] for r in rows])
    return {
        "preset": kit.title,
        "hits": len(rows),
        "onset_within_1ms": int((onsets <= 1.0).sum()),
        "onset_max_ms": float(onsets.max()),
        "onset_median_ms": float(np.median(onsets)),
        "onset_raw_median_ms": float(np.median([r["onset_raw_ms"] for r in rows])),
        "level_within_1db": int((levels <= 1.0).sum()),
        "level_max_db": float(levels.max()),
        "level_median_db": float(np.median(levels)),
        "overall_offset_db": round(offset, 2),
        "worst_levels": sorted(rows, key=lambda r: -abs(r["level_db"]))[:8],
        "worst_onsets": sorted(rows, key=lambda r: -abs(r["onset_ms"]))[:5],
    }


def compare_speed(font: Path, work: Path) -> dict:
    times: dict[str, float] = {"audiogen_render_s": 0.0, "audiogen_with_kit_s": 0.0,
                               "fluidsynth_s": 0.0, "audio_s": 0.0}  # fmt: skip
    for beat in BEATS:
        score = read_midi(beat, "gm")
        midi = work / f"{beat.stem}.mid"
        write_midi(score, midi)
        start = time.perf_counter()
        kit = load_kit(str(font))  # read once per process: this is the cached second read
        sampler = Sampler(kit, RATE, Variation.none())
        render_start = time.perf_counter()
        sampler.render(score)
        end = time.perf_counter()
        times["audiogen_render_s"] += end - render_start
        times["audiogen_with_kit_s"] += end - start
        times["fluidsynth_s"] += fluidsynth(font, midi, work / f"{beat.stem}.wav")
        times["audio_s"] += score.duration_s
    times["fluidsynth_over_audiogen"] = times["fluidsynth_s"] / times["audiogen_with_kit_s"]
    return {k: round(v, 3) for k, v in times.items()}


def main() -> None:
    if shutil.which("fluidsynth") is None:
        sys.exit("fluidsynth is not installed (apt-get install fluidsynth)")
    results = {"machine": describe_machine(), "rate": RATE, "fonts": {}}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        os.environ["AUDIOGEN_CACHE"] = str(work / "cache")  # starts empty
        for name, font in FONTS.items():
            if not font.is_file():
                print(f"{name}: {font} not installed, skipped")
                continue
            start = time.perf_counter()
            load_kit(str(font))
            cold = time.perf_counter() - start
            _load.cache_clear()  # as a new process would: the files are in the cache
            start = time.perf_counter()
            load_kit(str(font))
            warm = time.perf_counter() - start
            hits = compare_hits(name, font, work)
            speed = compare_speed(font, work)
            results["fonts"][name] = {"read_empty_cache_s": round(cold, 2),
                                      "read_cached_s": round(warm, 2), **hits, **speed}
    print("| SoundFont | hits | onsets within 1 ms (max) | levels within 1 dB (median, max) "
          "| audiogen render | with kit read | fluidsynth | ratio "
          "| kit read: empty cache, cached |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, r in results["fonts"].items():
        print(f"| {name} ({r['preset']}) | {r['hits']} | {r['onset_within_1ms']} "
              f"({r['onset_max_ms']:.2f} ms) | {r['level_within_1db']} ({r['level_median_db']:.2f},"
              f" {r['level_max_db']:.2f} dB) | {r['audiogen_render_s']:.2f} s "
              f"| {r['audiogen_with_kit_s']:.2f} s | {r['fluidsynth_s']:.2f} s "
              f"| {r['fluidsynth_over_audiogen']:.1f}x | {r['read_empty_cache_s']:.1f} s, "
              f"{r['read_cached_s']:.1f} s |")  # fmt: skip
    out = REPO / "benchmarks" / "results" / "soundfonts.json"
    out.write_text(json.dumps(results, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
