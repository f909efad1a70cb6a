"""How the mix stage reaches loudness: limiting, punch, stems against master, files as delivered.

    python benchmarks/bench_mastering.py            # 20 genres x 8 kits x 3 presets x 2 seeds
    python benchmarks/bench_mastering.py --quick    # each genre's own kit, streaming, seed 1

For every render (the product's own request resolution, planner, humanizer, sampler and mix):
1. the final true-peak limiter's deepest reduction (the loudest hit) and on the loud hits;
2. punch: the crest factor (peak against RMS over each kick and snare hit's first 50 ms) in the
   master against the same hits in the dry sampler render, as a distribution of the loss in dB;
3. the whole chain's peak reduction: peak-to-loudness ratio of the dry sum minus the master's;
4. stems: their sum's true peak against the master's, and the loudest stem sample;
5. on each genre's own kit: every delivered file (WAV, FLAC, MP3) decoded and measured (its
   loudness against the target and its true peak against the ceiling).
Then the job time of the 60 s spine beat against `fluidsynth` on the same MIDI, and before/after
pictures of four beats (``--pictures DIR``, with ``--before`` a checkout of the old tree).
"""

from __future__ import annotations

import argparse
import json
import math
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import soundfile as sf

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

from machine import describe_machine  # noqa: E402

from audiogen.kits import kit_names, load_kit  # noqa: E402
from audiogen.mix import integrated_lufs, true_peak_dbtp  # noqa: E402
from audiogen.pipeline import Session  # noqa: E402
from audiogen.planner.genres import GENRES  # noqa: E402
from audiogen.renderers.sampler import Sampler  # noqa: E402
from audiogen.request import resolve_generation  # noqa: E402

PRESETS = ("streaming", "podcast", "broadcast")
HIT_S = 0.05
PUNCH_GROUPS = ("kick", "snare")


def hit_crests_db(audio: np.ndarray, starts: list[int], sample_rate: int) -> np.ndarray:
    """Crest factor in dB of each hit: peak over RMS across its first 50 ms (channels summed
    in power), NaN where the window is silent."""
    frames = audio if audio.ndim == 2 else audio[np.newaxis, :]
    n = round(HIT_S * sample_rate)
    crests = []
    for start in starts:
        window = frames[:, start : start + n].astype(np.float64)
        power = np.mean(np.square(window), axis=0)
        rms = math.sqrt(float(np.mean(power))) if power.size else 0.0
        peak = math.sqrt(float(np.max(power))) if power.size else 0.0
        crests.append(20 * math.log10(peak / rms) if rms > 1e-9 else math.nan)
    return np.array(crests)


def peak_to_loudness_db(audio: np.ndarray, sample_rate: int) -> float:
    return true_peak_dbtp(audio, sample_rate) - integrated_lufs(audio, sample_rate)


def measure_render(beat: Any, score: Any, dry: Any) -> dict[str, float]:
    """What the mix stage did to one beat, against the dry sampler render of its score."""
    sr = beat.sample_rate
    dry_sum = sum(dry.stems.values())
    starts = sorted({round(score.time_s(h) * sr) for h in score.hits
                     if h.group in PUNCH_GROUPS and h.velocity >= 64})  # fmt: skip
    loss = hit_crests_db(dry_sum, starts, sr) - hit_crests_db(beat.mix, starts, sr)
    loss = loss[np.isfinite(loss)]
    stem_sum = sum(beat.stems.values())
    report = beat.loudness
    return {
        "final_limiter_db": report.limiting_db,
        "drive_peak_reduction_db": report.drive.peak_reduction_db,
        "chain_peak_reduction_db": peak_to_loudness_db(dry_sum, sr)
        - peak_to_loudness_db(beat.mix, sr),
        "punch_loss_median_db": float(np.median(loss)) if loss.size else math.nan,
        "punch_loss_max_db": float(np.max(loss)) if loss.size else math.nan,
        "lufs_miss": report.integrated_lufs - report.target_lufs,
        "master_dbtp": report.true_peak_dbtp,
        "stem_sum_over_master_db": true_peak_dbtp(stem_sum, sr) - report.true_peak_dbtp,
        "stem_peak_dbfs": 20 * math.log10(max(float(np.max(np.abs(s))) for s in
                                              beat.stems.values()) + 1e-12),  # fmt: skip
        "stopped_short_lu": report.stopped_short_lu,
    }


def measure_files(beat: Any, folder: Path) -> list[dict]:
    """Every delivered audio file decoded (ffmpeg for MP3) and measured."""
    out = beat.save(folder, force=True)
    aimed = beat.loudness.target_lufs - beat.loudness.stopped_short_lu
    rows = []
    for path in sorted(out.rglob("*")):
        if path.suffix not in (".wav", ".flac", ".mp3"):
            continue
        audio = decode(path)
        rows.append({
            "file": str(path.relative_to(out)),
            "lufs": integrated_lufs(audio, beat.sample_rate) if path.parent == out else None,
            "dbtp": true_peak_dbtp(audio, beat.sample_rate),
            "peak_dbfs": 20 * math.log10(float(np.max(np.abs(audio))) + 1e-12),
            "target": aimed, "ceiling": beat.loudness.ceiling_dbtp,
        })  # fmt: skip
    return rows


def decode(path: Path) -> np.ndarray:
    if path.suffix == ".mp3":
        raw = subprocess.run(["ffmpeg", "-v", "error", "-i", str(path), "-f", "f32le", "-ac", "2",
                              "-"], check=True, capture_output=True).stdout  # fmt: skip
        return np.frombuffer(raw, dtype=np.float32).reshape(-1, 2).T.copy()
    audio, _ = sf.read(path, dtype="float32", always_2d=True)
    return audio.T.copy()


def summarise(rows: list[dict[str, Any]]) -> dict[str, Any]:
    def dist(key: str) -> dict[str, float]:
        values = np.array([r[key] for r in rows if math.isfinite(r[key])])
        return {"median": round(float(np.median(values)), 2),
                "p95": round(float(np.percentile(values, 95)), 2),
                "max": round(float(np.max(values)), 2)}  # fmt: skip

    keys = [k for k in rows[0] if isinstance(rows[0][k], float)]
    return {"renders": len(rows), **{k: dist(k) for k in keys}}


def report(rows: list[dict[str, Any]], files: list[dict[str, Any]]) -> dict[str, Any]:
    """The distributions over every render, and what the delivered files missed."""
    mixes = [f for f in files if f["lufs"] is not None]
    over = [f for f in mixes if f["dbtp"] > f["ceiling"] + 1e-3]
    off = [f for f in mixes if abs(f["lufs"] - f["target"]) > 0.5]
    stems_over = [f for f in files if f["lufs"] is None and f["file"].endswith(".wav")
                  and f.get("peak_dbfs", f["dbtp"]) >= 0.0]  # fmt: skip
    short = [r for r in rows if r["stopped_short_lu"] > 0.0]
    return {
        "summary": summarise(rows),
        "by_preset": {p: summarise([r for r in rows if r["preset"] == p])
                      for p in sorted({r["preset"] for r in rows})},  # fmt: skip
        "stopped_short": {"renders": len(short), "of": len(rows),
                          "by_genre": {g: sum(1 for r in short if r["genre"] == g)
                                       for g in dict.fromkeys(r["genre"] for r in rows)}},
        "files": {"masters_measured": len(mixes), "over_ceiling": over, "off_target": off,
                  "wav_stems_over_0_dbtp": len(stems_over),
                  "worst_master_dbtp_by_format": {
                      ext: round(max(f["dbtp"] for f in mixes if f["file"].endswith(ext)), 2)
                      for ext in (".wav", ".flac", ".mp3")
                      if any(f["file"].endswith(ext) for f in mixes)}},  # fmt: skip
        "worst_final_limiter": sorted(rows, key=lambda r: -r["final_limiter_db"])[:5],
    }


def bench_speed(repeats: int) -> dict[str, float]:
    from bench_spine import SOUNDFONT, sixty_second_beat

    from audiogen import render
    from audiogen.midi import write_midi

    score = sixty_second_beat()
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        midi = tmp / "sixty.mid"
        write_midi(score, midi)
        fluid, full = [], []
        for _ in range(repeats):
            t = time.perf_counter()
            subprocess.run(["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-r", "48000", "-F",
                            str(tmp / "f.wav"), str(SOUNDFONT), str(midi)],
                           check=True, capture_output=True)  # fmt: skip
            fluid.append(time.perf_counter() - t)
            t = time.perf_counter()
            render(midi, kit="acoustic").save(tmp / "full", force=True)
            full.append(time.perf_counter() - t)
    full_s, fluid_s = statistics.median(full), statistics.median(fluid)
    return {"audio_s": score.duration_s, "job_s": round(full_s, 3),
            "real_time": round(score.duration_s / full_s, 1),
            "fluidsynth_s": round(fluid_s, 3)}  # fmt: skip


PICTURED = (("blues", "room"), ("pop", "acoustic"), ("hip-hop", "room"), ("house", "house"))


def pictures(folder: Path, before: Path) -> list[str]:
    """The same four beats from the old tree (``before``, a checkout) and this one, as
    waveform and spectrogram pictures side by side."""
    import os

    from measures import spectrogram_image, waveform_image

    folder.mkdir(parents=True, exist_ok=True)
    written = []
    with tempfile.TemporaryDirectory() as tmp:
        for genre, kit in PICTURED:
            mixes = []
            for label, tree in (("before", before), ("after", REPO)):
                out = Path(tmp) / f"{genre}-{label}"
                env = {**os.environ, "PYTHONPATH": str(tree)}
                subprocess.run([sys.executable, "-m", "audiogen", "-q", "generate", "--genre",
                                genre, "--kit", kit, "--seed", "1", "-o", str(out)],
                               cwd=tree, env=env, check=True, capture_output=True)  # fmt: skip
                audio, sr = sf.read(out / "mix.wav", dtype="float32", always_2d=True)
                mixes.append((f"{genre} / {kit}: {label}", audio.T))
            waveform_image(mixes, sr, folder / f"{genre}-waveform.png")
            spectrogram_image([(t, a.mean(axis=0)[: 4 * sr]) for t, a in mixes], sr,
                              folder / f"{genre}-spectrogram.png")  # fmt: skip
            written += [f"{genre}-waveform.png", f"{genre}-spectrogram.png"]
    return written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3, help="speed runs (median)")
    parser.add_argument("--json", type=Path, help="write all rows here")
    parser.add_argument("--pictures", type=Path, help="write before/after pictures here")
    parser.add_argument("--before", type=Path, help="a checkout of the tree before the change")
    parser.add_argument("--only-pictures", action="store_true")
    parser.add_argument("--only-speed", action="store_true")
    parser.add_argument("--summarise", type=Path, help="summarise the rows of an earlier --json")
    parser.add_argument("--presets", nargs="+", choices=PRESETS, help="only these presets")
    parser.add_argument("--cases", nargs="+", metavar="GENRE:KIT:SEED",
                        help="only these renders (e.g. the misses of an earlier run)")  # fmt: skip
    args = parser.parse_args()
    if args.only_speed:
        print(json.dumps({"machine": describe_machine(), **bench_speed(args.repeats)}, indent=1))
        return
    if args.summarise:
        done = json.loads(args.summarise.read_text())
        print(json.dumps(report(done["rows"], done.get("file_rows", done["files"])), indent=1))
        return
    if args.pictures and args.before:
        print(pictures(args.pictures, args.before))
        if args.only_pictures:
            return
    started = time.time()
    machine = describe_machine()
    session = Session()
    rows: list[dict[str, Any]] = []
    files: list[dict[str, Any]] = []
    seeds = (1,) if args.quick else tuple(range(1, args.seeds + 1))
    cases = {tuple(c.split(":")) for c in args.cases or ()}
    if cases:
        seeds = tuple(sorted({int(seed) for _, _, seed in cases}))
    presets = tuple(args.presets or (("streaming",) if args.quick else PRESETS))
    with tempfile.TemporaryDirectory() as tmp:
        for seed in seeds:  # every genre once before any twice: a partial run covers them all
            for genre in GENRES:
                if cases and not any(g == genre and int(n) == seed for g, _, n in cases):
                    continue
                base = resolve_generation(None, {"genre": genre, "seed": seed})
                score = session.humanize(session.plan(base.plan, seed), base.plan.humanize, seed)
                kits = (base.render.kit,) if args.quick else kit_names()
                for kit in kits:
                    if cases and (genre, kit, str(seed)) not in cases:
                        continue
                    dry = Sampler(load_kit(kit), base.render.sample_rate).render(score, seed=seed)
                    for preset in presets:
                        request = resolve_generation(None, {
                            "genre": genre, "seed": seed, "kit": kit, "loudness": preset,
                            "formats": "wav,flac,mp3"}).render  # fmt: skip
                        beat = session.render(score, request)
                        row = measure_render(beat, score, dry)
                        rows.append({"genre": genre, "kit": kit, "preset": preset,
                                     "seed": seed, **row})  # fmt: skip
                        if kit == base.render.kit and seed == 1:
                            where = {"genre": genre, "kit": kit, "preset": preset}
                            folder = Path(tmp) / f"{genre}-{preset}"
                            files += [{**where, **f} for f in measure_files(beat, folder)]
                print(f"{genre} seed {seed}: {rows[-1]}", flush=True)
                if args.json:  # what is done so far survives an interrupted run
                    args.json.write_text(json.dumps({"rows": rows, "files": files}, indent=1))
    result = {
        "machine": machine,
        **report(rows, files),
        "speed": bench_speed(args.repeats) if shutil.which("fluidsynth") else None,
        "wall_s": round(time.time() - started),
    }
    if args.json:
        # The files' own rows beside their summary (``result["files"]``).
        args.json.write_text(json.dumps({"rows": rows, **result, "file_rows": files}, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
