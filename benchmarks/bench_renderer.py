"""Neural renderer benchmark: the token model's stems against the sampler's, on held-out scores.

    python benchmarks/bench_renderer.py [--checkpoint checkpoints/renderer] [--performances 8]

Material: the Groove test split (never trained on; ``--split validation`` for the split to choose
settings on, trained on neither), the opening ``--seconds`` of each performance,
through the training kits in turn (one kit per performance). Every stem group that plays is
rendered by the neural renderer and by the sampler at the codec's rate, in the same run. The
neural render is measured twice: as the renderer hands it on ('neural': the token model, then
the score-keyed dynamics of `audiogen.renderers.dynamics`) and as the token model wrote it
('model'). Per stem group: onset F-measure (50 ms) against the score, and against the score's
attacks that the detector finds in the sampler's render ('onset_f_audible': what no render of
the kit would show it, such as a ghost note under a ringing snare, left out); the median onset
error (each matched onset read where its attack begins); Spearman between MIDI velocity and the
rendered hit's peak level, per instrument; the loudest level where the kit's hits have rung
out between hits (the sampler's stem quiet, and the same score through the kit without the
sampler's per-hit variation quiet too); log-mel distance to the sampler's stem, as a ratio to
the codec's own reconstruction of it. The sampler's own onset and velocity figures are given
beside, as the ceiling the measures allow. Speed: the whole neural render (tokens + decode +
dynamics, all stems) and the sampler's, × real time. Spectrograms of 4 s per stem group from
its first hit, sampler | neural.
Writes benchmarks/results/renderer.json (after every performance) and renderer-<group>.png.

To try the dynamics without rendering again: ``--keep-stems DIR`` writes each render's token
model stems (and the sampler's and codec's) to DIR; a later run with ``--from-stems DIR`` reads
them, puts the model's stems through the dynamics as they are now, and measures, in a few
minutes instead of twenty (no speed then).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import sys
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from bench_codec import GROOVE, groove_test_beats  # noqa: E402
from machine import describe_machine  # noqa: E402
from measures import (  # noqa: E402
    attack_start,
    detect_onsets,
    log_mel_distance,
    match_onsets,
    onset_f_measure,
    spectrogram_image,
)  # fmt: skip

from audiogen.instruments import GROUPS, parse_group_weights  # noqa: E402
from audiogen.planner.bars import Phrase, phrase_to_score  # noqa: E402
from audiogen.score import DrumScore  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results"
SAME_ATTACK_S = 0.03  # hits of one stem closer than this are one attack to an onset detector
PEAK_WINDOW_S = (-0.005, 0.03)  # where a hit's peak level is read, around its score time
RUNG_OUT_DB = -60.0  # the sampler's stem below this has rung out
QUIET_FRAME_S = 0.01
TARGETS = {"onset_f": 0.95, "onset_error_ms": 5.0, "spearman": 0.9, "rung_out_db": -50.0,
           "log_mel_ratio": 1.3, "x_realtime": 2.0}  # fmt: skip


def opening(phrase: Phrase, seconds: float) -> DrumScore:
    """The first whole bars of ``phrase`` that fit in ``seconds`` (at least one)."""
    bar_s = phrase_to_score(dataclasses.replace(phrase, bars=phrase.bars[:1])).duration_s
    bars = max(1, int(seconds // bar_s))
    return phrase_to_score(dataclasses.replace(phrase, bars=phrase.bars[:bars]))


def attacks(times: np.ndarray) -> np.ndarray:
    """Sorted onset times with those closer than `SAME_ATTACK_S` to the previous merged."""
    kept: list[float] = []
    for t in np.sort(times):
        if not kept or t - kept[-1] >= SAME_ATTACK_S:
            kept.append(float(t))
    return np.array(kept)


def onset_timing(score_times: np.ndarray, audio: np.ndarray, sample_rate: int) -> dict:
    """Onset F-measure of the stem against the score's attacks, the median |error| (ms)
    between each matched attack's score time and where its sound begins (`attack_start`), and
    how many attacks it missed and how many onsets it added (the F-measure's two sides)."""
    reference, detected = attacks(score_times), detect_onsets(audio, sample_rate)
    pairs = match_onsets(reference, detected)
    errors = [abs(r - attack_start(audio, sample_rate, t)) for r, t in pairs]
    error = float(np.median(errors) * 1000) if errors else float("nan")
    return {"onset_f": onset_f_measure(reference, detected), "onset_error_ms": error,
            "missed": len(reference) - len(pairs), "extra": len(detected) - len(pairs)}


def audible_onset_f(score_times: np.ndarray, kit_audio: np.ndarray, audio: np.ndarray,
                    sample_rate: int) -> float:  # fmt: skip
    """Onset F-measure of ``audio`` against the score's attacks that the detector finds in the
    kit's own render of the score (``kit_audio``, the sampler's). An onset on an attack it does
    not find there (a ghost note under a ringing snare) is neither a hit nor an extra: this
    asks whether a render places what the kit makes audible, apart from what no render of that
    kit would show the detector."""
    reference = attacks(score_times)
    heard = {r for r, _ in match_onsets(reference, detect_onsets(kit_audio, sample_rate))}
    detected = detect_onsets(audio, sample_rate)
    unheard = {t for r, t in match_onsets(reference, detected) if r not in heard}
    return onset_f_measure(np.array(sorted(heard)),
                           np.array([t for t in detected if t not in unheard]))  # fmt: skip


def extras_in_kit(score_times: np.ndarray, kit_audio: np.ndarray, audio: np.ndarray,
                  sample_rate: int) -> int:  # fmt: skip
    """How many of the onsets ``audio`` adds to the score's attacks the kit's own render of
    the score (``kit_audio``, the sampler's) adds too, within the match window: the kit's own
    texture (a brush's swish, a rattle in a tom's ring) that the detector reads as strikes,
    not a strike the render made up. Counted beside ``extra``, which they are part of."""
    reference = attacks(score_times)

    def added(stem: np.ndarray) -> np.ndarray:
        detected = detect_onsets(stem, sample_rate)
        matched = {t for _, t in match_onsets(reference, detected)}
        return np.array([t for t in detected if t not in matched])

    return len(match_onsets(added(kit_audio), added(audio)))


def hit_levels(times: np.ndarray, audio: np.ndarray, sample_rate: int) -> np.ndarray:
    """Peak level (dBFS) of ``audio`` in `PEAK_WINDOW_S` around each time."""
    out = []
    for t in times:
        a = max(0, round((t + PEAK_WINDOW_S[0]) * sample_rate))
        b = max(a + 1, round((t + PEAK_WINDOW_S[1]) * sample_rate))
        out.append(20 * np.log10(max(float(np.abs(audio[a:b]).max(initial=0.0)), 1e-6)))
    return np.array(out)


def isolated(times: np.ndarray) -> np.ndarray:
    """Which hits of a stem (their ``times``) have no other hit of the stem within a peak
    window's span of them, so that their peak level is their own."""
    span = PEAK_WINDOW_S[1] - PEAK_WINDOW_S[0]
    return np.array([np.sum(np.abs(times - t) <= span) == 1 for t in times], dtype=bool)


def velocity_spearman(velocities: np.ndarray, levels: np.ndarray) -> float | None:
    """Spearman's rank correlation; None with under 5 hits or a single velocity."""
    from scipy.stats import spearmanr

    if len(velocities) < 5 or len(set(velocities.tolist())) < 2:
        return None
    return float(spearmanr(velocities, levels).statistic)


def rung_out_level(reference: np.ndarray, test: np.ndarray, sample_rate: int,
                   hits_s: np.ndarray, settle_s: float = 0.05, guard_s: float = 0.02,
                   steady: np.ndarray | None = None) -> float | None:  # fmt: skip
    """The loudest 10 ms frame peak (dBFS) of ``test`` where ``reference`` has rung out: frames
    where it has stayed below `RUNG_OUT_DB` for ``settle_s`` and that end ``guard_s`` or more
    before the next hit. None when the reference never rings out.

    ``steady``: the same score through the kit without the sampler's per-hit variation. Where
    given, a frame counts as rung out only where it is quiet as well. The variation detunes
    two ringing tails against each other, and for a moment they cancel (a notch 20-30 dB deep
    in the 808's kick, BENCHMARKS.md) while the kit still rings; a render that keeps ringing
    there has not sounded where nothing was played."""
    hop = round(QUIET_FRAME_S * sample_rate)
    n = min(len(reference), len(test)) // hop
    if steady is not None:
        n = min(n, len(steady) // hop)
    peak = lambda x: np.abs(x[: n * hop].reshape(n, hop)).max(axis=1)  # noqa: E731
    quiet = 20 * np.log10(np.maximum(peak(reference), 1e-6)) < RUNG_OUT_DB
    if steady is not None:
        quiet &= 20 * np.log10(np.maximum(peak(steady), 1e-6)) < RUNG_OUT_DB
    settle = round(settle_s / QUIET_FRAME_S)
    run = np.zeros(n, dtype=int)  # quiet frames in a row, up to this one
    for i in range(n):
        run[i] = run[i - 1] + 1 if quiet[i] and i else int(quiet[i])
    starts = np.arange(n) * QUIET_FRAME_S
    hits = np.append(np.sort(hits_s), np.inf)
    before_next = hits[np.searchsorted(hits, starts)] >= starts + QUIET_FRAME_S + guard_s
    rung_out = (run > settle) & before_next
    if not rung_out.any():
        return None
    return float(20 * np.log10(max(float(peak(test)[rung_out].max()), 1e-6)))


def render_pair(score: DrumScore, kit: str, renderer, codec, seed: int,
                sampling: dict | None = None) -> dict:  # fmt: skip
    """Both renders of ``score`` at the codec's rate, the codec's reconstruction of the
    sampler's stems, the sampler's stems without its per-hit variation ('steady', which
    `rung_out_level` reads), and the seconds each renderer took."""
    from audiogen.kits import load_kit
    from audiogen.renderers.dynamics import follow_kit, kit_renders
    from audiogen.renderers.sampler import Sampler, Variation

    sr = codec.sample_rate
    start = time.perf_counter()
    sampler = Sampler(load_kit(kit), sr, Variation()).render(score, seed=seed).stems
    sampler_s = time.perf_counter() - start
    steady = kit_renders(score, {kit: 1.0}, sr, seed)[0][1]  # the dynamics' key, untimed
    start = time.perf_counter()
    model = renderer.render(score, kit, sample_rate=sr, seed=seed, dynamics=False,
                            **(sampling or {}))  # fmt: skip
    neural = follow_kit({g: a.copy() for g, a in model.items()}, score, {kit: 1.0}, sr, seed)
    neural_s = time.perf_counter() - start
    codec_stems = {g: codec.decode(codec.encode(a), len(a))[0] for g, a in sampler.items()}
    return {"sampler": sampler, "neural": neural, "model": model, "codec": codec_stems,
            "steady": steady, "sampler_s": sampler_s, "neural_s": neural_s}  # fmt: skip


KEPT = "stems-{index}-{seed}.npz"  # one render's stems, in --keep-stems' folder
KEPT_CARD = "kept.json"  # what rendered them
KEPT_RENDERS = ("model", "sampler", "codec")


def keep_stems(folder: Path, index: int, seed: int, made: dict) -> None:
    """One render's token model stems, and the sampler's and codec's, to ``folder``."""
    path = folder / KEPT.format(index=index, seed=seed)
    arrays = {f"{who}.{group}": audio for who in KEPT_RENDERS
              for group, audio in made[who].items()}  # fmt: skip
    partial = path.with_name(path.stem + ".partial.npz")
    np.savez(partial, **arrays)
    partial.replace(path)


def kept_pair(folder: Path, index: int, seed: int, score: DrumScore, kit: str,
              sample_rate: int) -> dict:  # fmt: skip
    """A render `keep_stems` wrote, as `render_pair` gives it: the token model's stems through
    the dynamics as they are now; no times (speed is not measured)."""
    from audiogen.renderers.dynamics import follow_kit, kit_renders

    path = folder / KEPT.format(index=index, seed=seed)
    if not path.exists():
        sys.exit(f"{folder} keeps no stems of performance {index + 1} with seed {seed}: keep "
                 "them with the same --split, --performances and --seeds")  # fmt: skip
    made: dict = {who: {} for who in KEPT_RENDERS}
    with np.load(path) as data:
        for name in data.files:
            who, group = name.split(".", 1)
            made[who][group] = data[name]
    made["neural"] = follow_kit({g: a.copy() for g, a in made["model"].items()}, score,
                                {kit: 1.0}, sample_rate, seed)  # fmt: skip
    made["steady"] = kit_renders(score, {kit: 1.0}, sample_rate, seed)[0][1]
    return made | {"sampler_s": 0.0, "neural_s": 0.0}


SEED_STRIDE = 1000  # --seeds: performance i's draws take seeds i, i + 1000, ...
RENDERS = ("neural", "model")  # the neural renderer's stems, and the token model's own


def measure_stem(score: DrumScore, group: str, stems: dict[str, np.ndarray],
                 sr: int) -> dict:  # fmt: skip
    """Every per-stem measure of one group, for each of `RENDERS` and the sampler (``stems``:
    theirs, the codec's reconstruction of the sampler's, and the sampler's without its per-hit
    variation, 'steady'); per-instrument Spearman under 'spearman'."""
    hits = score.hits_in_group(group)
    times = np.array([score.time_s(h) for h in hits])
    sampler = stems["sampler"]
    out: dict = {who: onset_timing(times, stems[who], sr) for who in (*RENDERS, "sampler")}
    out["log_mel_codec"] = log_mel_distance(sampler, stems["codec"], sr)
    for who in RENDERS:
        out[who] |= {"onset_f_audible": audible_onset_f(times, sampler, stems[who], sr),
                     "extra_in_kit": extras_in_kit(times, sampler, stems[who], sr),
                     "log_mel": log_mel_distance(sampler, stems[who], sr),
                     "rung_out_db": rung_out_level(sampler, stems[who], sr, times,
                                                   steady=stems["steady"])}  # fmt: skip
    alone = isolated(times)
    spearman: dict = {}
    for instrument in sorted({h.instrument for h in hits}):
        mine = np.array([h.instrument == instrument for h in hits]) & alone
        velocities = np.array([h.velocity for h in hits])[mine]
        spearman[instrument] = {
            who: velocity_spearman(velocities, hit_levels(times[mine], stems[who], sr))
            for who in (*RENDERS, "sampler")
        }
    out["spearman"] = spearman
    return out


def summarise(rows: list[dict], neural_s: float, sampler_s: float, music_s: float,
              stems: int) -> dict:  # fmt: skip
    """Per group: means over the stems (onset error: median of the medians), the log-mel ratio,
    the worst rung-out level, the attacks missed and onsets added in all; per instrument: mean
    Spearman; the speeds."""

    def mean(values: list) -> float | None:
        kept = [v for v in values if v is not None and np.isfinite(v)]
        return round(float(np.mean(kept)), 4) if kept else None

    def total(values: list) -> int | None:  # results from before the counts have none
        kept = [v for v in values if v is not None]
        return int(sum(kept)) if kept else None

    groups: dict = {}
    for group in GROUPS:
        mine = [r for r in rows if r["group"] == group]
        if not mine:
            continue
        codec_mel = mean([r["log_mel_codec"] for r in mine])
        values: dict = {"stems": len(mine), "log_mel_codec": codec_mel}
        for who in (*RENDERS, "sampler"):
            values[f"{who}_onset_f"] = mean([r[who]["onset_f"] for r in mine])
            values[f"{who}_onset_error_ms"] = _median([r[who]["onset_error_ms"] for r in mine])
            for side in ("missed", "extra"):
                values[f"{who}_{side}"] = total([r[who].get(side) for r in mine])
        for who in RENDERS:
            values[f"{who}_onset_f_audible"] = mean([r[who]["onset_f_audible"] for r in mine])
            values[f"{who}_extra_in_kit"] = total([r[who].get("extra_in_kit") for r in mine])
            mel = mean([r[who]["log_mel"] for r in mine])
            rung = [r[who]["rung_out_db"] for r in mine if r[who]["rung_out_db"] is not None]
            values[f"{who}_log_mel"] = mel
            ratio = round(mel / codec_mel, 3) if mel and codec_mel else None
            values[f"{who}_log_mel_ratio"] = ratio
            values[f"{who}_rung_out_db"] = round(max(rung), 1) if rung else None
        groups[group] = values
    instruments: dict = defaultdict(lambda: defaultdict(list))
    for row in rows:
        for instrument, by_render in row["spearman"].items():
            for who, value in by_render.items():
                if value is not None:
                    instruments[instrument][who].append(value)
    spearman = {i: {w: round(float(np.mean(v)), 3) for w, v in by_render.items()}
                for i, by_render in sorted(instruments.items())}  # fmt: skip
    speed = {"neural_x_realtime": round(music_s / neural_s, 2) if neural_s else None,
             "sampler_x_realtime": round(music_s / sampler_s, 1) if sampler_s else None,
             "beats_s": round(music_s, 1), "stems_per_beat": round(stems, 2)}  # fmt: skip
    return {"groups": groups, "spearman": spearman, "speed": speed}


def missed_targets(summary: dict) -> tuple[int, list[str]]:
    """How many quality targets ``summary`` is measured on (per group: log-mel ratio, onset F,
    onset error, rung-out level; per instrument: Spearman; speed apart), and those it misses."""
    higher = {"onset_f", "spearman"}  # the targets a figure meets from above; the rest, below
    checks: list[tuple[str, str, float | None]] = []  # (whose, which target, figure)
    for group, values in summary["groups"].items():
        checks += [(group, key, values[f"neural_{key}"])
                   for key in ("log_mel_ratio", "onset_f", "onset_error_ms", "rung_out_db")]
    for instrument, values in summary["spearman"].items():
        checks.append((instrument, "spearman", values.get("neural")))
    missed = []
    for whose, key, value in checks:
        target = TARGETS[key]
        if value is not None and not (value >= target if key in higher else value <= target):
            missed.append(f"{whose} {key} {value}")
    return len(checks), missed


def parse_guidance(text: str) -> float | dict[str, float]:
    """``--guidance``: one weight ('2.5'), or a weight per group ('kick=3,snare=2.5,...')."""
    if "=" not in text:
        return float(text)
    try:
        return parse_group_weights(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _median(values: list) -> float | None:
    kept = [v for v in values if v is not None and np.isfinite(v)]
    return round(float(np.median(kept)), 2) if kept else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=ROOT / "checkpoints/renderer")
    parser.add_argument("--codec", type=Path, default=ROOT / "checkpoints/codec")
    parser.add_argument("--performances", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=12.0, help="of each performance")
    parser.add_argument("--groove", type=Path, default=GROOVE)
    parser.add_argument("--split", choices=("test", "validation"), default="test",
                        help="Groove split (validation: to choose settings on)")
    parser.add_argument("--results", type=Path, default=RESULTS, help="folder for the outputs")
    parser.add_argument("--temperature", type=float, default=None, help="the renderer's default")
    parser.add_argument("--top-k", type=int, default=None, help="the renderer's default")
    parser.add_argument("--guidance", type=parse_guidance, default=None,
                        help="one weight, or group=weight,..., while each hit sounds (default: "
                             "the checkpoint's)")  # fmt: skip
    parser.add_argument("--guidance-between", type=parse_guidance, default=None,
                        help="the same between hits (default: the checkpoint's, else --guidance)")
    parser.add_argument("--seeds", type=int, default=1,
                        help="renders of each performance, each drawn with its own seed (a "
                             "group that plays in a dozen stems moves with the draw)")  # fmt: skip
    parser.add_argument("--keep-stems", type=Path, default=None, metavar="DIR",
                        help="also write each render's stems here, for --from-stems")
    parser.add_argument("--from-stems", type=Path, default=None, metavar="DIR",
                        help="measure the stems --keep-stems wrote here, through the dynamics "
                             "as they are now, instead of rendering (no speed)")  # fmt: skip
    args = parser.parse_args()
    if args.keep_stems and args.from_stems:
        parser.error("--keep-stems and --from-stems: one or the other")
    if args.seeds < 1:
        parser.error("--seeds must be 1 or more")
    asked = (("temperature", args.temperature), ("top_k", args.top_k),
             ("guidance", args.guidance), ("guidance_between", args.guidance_between))
    sampling = {k: v for k, v in asked if v is not None}

    from audiogen.codec.model import Codec
    from audiogen.errors import AudiogenError
    from audiogen.files import write_text_atomic
    from audiogen.renderers.neural import CARD, NeuralRenderer
    from audiogen.training.clips import training_kits

    if not (args.checkpoint / CARD).exists():
        sys.exit(f"no renderer checkpoint in {args.checkpoint}: train one first "
                 "(pipelines/train_renderer.py --precompute, then --minutes N) or pass "
                 "--checkpoint DIR")  # fmt: skip
    try:
        codec = Codec.load(args.codec)
        renderer = NeuralRenderer.load(args.checkpoint, codec)
    except AudiogenError as exc:
        sys.exit(f"error: {exc}")
    sr, kits = codec.sample_rate, [k for k in training_kits() if k in renderer.config.kits]
    args.results.mkdir(parents=True, exist_ok=True)
    rows: list[dict] = []
    pictured: set[str] = set()
    neural_s = sampler_s = music_s = 0.0
    stems = 0
    if args.split != "test" and args.results == RESULTS:
        sys.exit("--split validation writes to the folder --results names, not beside the "
                 "test split's results")  # fmt: skip
    phrases = groove_test_beats(args.performances, args.groove, args.split)
    kept = {"models": renderer.versions(), "codec": codec.version, "sampling": sampling,
            "split": args.split, "seconds_each": args.seconds}  # fmt: skip
    if args.from_stems:
        card = args.from_stems / KEPT_CARD
        if not card.exists():
            sys.exit(f"no stems kept in {args.from_stems} (run with --keep-stems DIR first)")
        if json.loads(card.read_text()) != kept:
            sys.exit(f"the stems in {args.from_stems} were kept with other models, codec, "
                     f"sampling, split or length ({card.name} says which)")  # fmt: skip
    else:
        renderer.render(opening(phrases[0], 0.0), kits[0], sample_rate=sr)  # warm-up, not timed
    if args.keep_stems:
        args.keep_stems.mkdir(parents=True, exist_ok=True)
        write_text_atomic(args.keep_stems / KEPT_CARD, json.dumps(kept, indent=1) + "\n")
    renders = [(index, phrase, draw) for index, phrase in enumerate(phrases)
               for draw in range(args.seeds)]  # fmt: skip
    for count, (index, phrase, draw) in enumerate(renders, 1):
        score, kit = opening(phrase, args.seconds), kits[index % len(kits)]
        seed = index + SEED_STRIDE * draw  # the first draw's seeds are those of one-draw runs
        if args.from_stems:
            made = kept_pair(args.from_stems, index, seed, score, kit, sr)
        else:
            made = render_pair(score, kit, renderer, codec, seed=seed, sampling=sampling)
        if args.keep_stems:
            keep_stems(args.keep_stems, index, seed, made)
        neural_s, sampler_s = neural_s + made["neural_s"], sampler_s + made["sampler_s"]
        music_s += score.duration_s
        stems += len(made["neural"])
        for group in [g for g in score.groups if g in made["sampler"]]:
            row = measure_stem(score, group, {who: made[who][group] for who in
                               (*RENDERS, "sampler", "codec", "steady")}, sr)  # fmt: skip
            rows.append(row | {"group": group, "kit": kit, "source": phrase.source, "seed": seed})
            if group not in pictured:
                pictured.add(group)
                first = min(score.time_s(h) for h in score.hits_in_group(group))
                start = max(0, round((first - 0.1) * sr))  # from the group's first hit
                beat = slice(start, start + round(4.0 * sr))
                spectrogram_image(
                    [(f"sampler {group} ({kit})", made["sampler"][group][beat]),
                     (f"neural {group} ({renderer.model_of(group).version})",
                      made["neural"][group][beat])],
                    sr, args.results / f"renderer-{group}.png",
                )  # fmt: skip
        result = {
            "machine": describe_machine(),
            "checkpoint": renderer.version, "models": renderer.versions(),
            "codec": codec.version, "sampling": sampling,
            "split": args.split, "performances": index + 1, "seeds": args.seeds,
            "seconds_each": args.seconds, "targets": TARGETS,
            "summary": summarise(rows, neural_s, sampler_s, music_s, stems / count),
            "stems": rows,
        }  # fmt: skip
        (args.results / "renderer.json").write_text(json.dumps(result, indent=1) + "\n")
        print(f"performance {index + 1}/{args.performances}, seed {seed} ({kit}, "
              f"{phrase.source}) measured", flush=True)  # fmt: skip
    summary = result["summary"]
    for group, values in summary["groups"].items():
        print(f"{group:8s} " + "  ".join(f"{k} {v}" for k, v in values.items()))
    for instrument, values in summary["spearman"].items():
        print(f"spearman {instrument:12s} " + "  ".join(f"{k} {v}" for k, v in values.items()))
    print("speed " + "  ".join(f"{k} {v}" for k, v in summary["speed"].items()))
    measured, missed = missed_targets(summary)
    print(f"quality targets met: {measured - len(missed)} of {measured}; missed: "
          + (", ".join(missed) or "none"))  # fmt: skip


if __name__ == "__main__":
    main()
