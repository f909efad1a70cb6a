"""The token model's material, made once: sampler stems encoded by the frozen codec, on disk.

Training the token model on the fly spent most of each step rendering and encoding (0.14 steps/s
at batch 16). Here every piece of the material (the codec's: Groove train split + style library,
cut into pieces of at most ``piece_bars`` bars, at a random tempo stretch, plus isolated hits at
all velocities) is rendered by the sampler through a training kit, and each stem it plays is
encoded by the codec. A shard holds ``shard_pieces`` pieces through one kit: int16 tokens, the
stem's score features (`features.stem_frames`, stored sparse), the envelope of the stem that was
encoded (`features.envelope_frames`, float16), its stem and kit. Shards are
written atomically and skipped when present, so the precompute resumes where it stopped.

Pass ``p`` plays chunk ``c`` of the material through kit ``(c + p) % kits``: after the first pass
every piece has been heard once and every kit is in use; each further pass adds a kit per piece.
Everything is tagged with the codec's identity (the SHA-256 of its weights): tokens of another
codec are refused with one line.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import pickle
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import numpy as np

from audiogen.errors import AudiogenError
from audiogen.files import atomic_path, sha256, write_text_atomic
from audiogen.instruments import GROUPS
from audiogen.planner.bars import Phrase, phrase_to_score
from audiogen.renderers.features import (
    BANDS,
    ENVELOPE,
    FEATURES,
    band_frames,
    envelope_frames,
    on_grid,
    stem_frames,
)
from audiogen.score import MAX_BPM, MIN_BPM, DrumScore
from audiogen.training.clips import ISOLATED_SHARE, isolated_hits

if TYPE_CHECKING:
    from audiogen.codec.model import Codec

log = logging.getLogger(__name__)
T = TypeVar("T")

MANIFEST = "tokens.json"
# settings a manifest written before they existed does not name
UNNAMED: dict[str, Any] = {"steady": False, "grid": 0}
MIN_SECONDS = 5.0  # short pieces (a one-bar fill) are padded with silence to this length
STRETCH_OCTAVES = 0.3  # tempo stretch of each piece: 2 ** U(-0.3, 0.3), as the codec's material


@dataclass(frozen=True)
class Plan:
    """How the material is cut into shards; the manifest records it with the codec's identity."""

    kits: tuple[str, ...]
    piece_bars: int = 8
    shard_pieces: int = 48
    passes: int = 1
    seed: int = 0
    # the kit's hits without the sampler's per-hit pitch and level variation, as the renderer's
    # key plays them: a 6-cent detune redraws most of an 808 kick's first-codebook tokens, which
    # the score cannot tell the model (BENCHMARKS.md)
    steady: bool = False
    # every hit at one of this many even positions in its frame (`features.on_grid`; 0: where
    # the piece has it), for a model with the same ``grid``
    grid: int = 0


def codec_identity(folder: Path) -> dict[str, str]:
    """The codec checkpoint's version and the SHA-256 of its weights (what the tokens depend on).

    A codec whose decoder alone was trained further writes the tokens of the checkpoint it
    started from: its card's ``tokens`` names that one, and that is its identity here.
    """
    from audiogen.codec.model import CARD, WEIGHTS

    try:
        card = json.loads((folder / CARD).read_text())
        if isinstance(card.get("tokens"), dict):
            return {"codec": str(card["tokens"]["codec"]),
                    "codec_sha256": str(card["tokens"]["codec_sha256"])}  # fmt: skip
        version = str(card.get("version", "untrained"))
        digest = sha256(folder / WEIGHTS)
    except (OSError, ValueError, KeyError) as exc:
        raise AudiogenError(f"codec checkpoint in {folder} cannot be read ({exc})") from None
    return {"codec": version, "codec_sha256": digest}


def token_models_left_behind(codec: Path, renderer: Path) -> list[str]:
    """The token models of the renderer checkpoint in ``renderer`` (its own and every routed or
    fused one, each a folder with a ``renderer.json``) that were trained on tokens other than the
    codec in ``codec`` writes: ``["renderer@24134 (codec@17648's tokens)", ...]``; empty when
    every one fits, or when no renderer is there.

    A codec that replaced the shipped one while these stay would make the neural renderer refuse
    to load (`NeuralRenderer.load`).
    """
    cards = sorted(renderer.glob("renderer.json")) + sorted(renderer.glob("*/renderer.json"))
    if not cards:
        return []
    identity = codec_identity(codec)
    out = []
    for path in cards:
        try:
            card = json.loads(path.read_text())
        except (OSError, ValueError) as exc:
            raise AudiogenError(f"renderer card {path} cannot be read ({exc})") from None
        if card.get("codec_sha256", identity["codec_sha256"]) != identity["codec_sha256"] \
                or card.get("codec") != identity["codec"]:  # fmt: skip
            out.append(f"{card.get('version', path.parent.name)} ({card.get('codec')}'s tokens)")
    return out


def pieces(phrases: Sequence[Phrase], bars: int, seed: int) -> list[tuple[Phrase, int]]:
    """(phrase, first bar) of every piece of at most ``bars`` bars, in a shuffled order."""
    out = [(p, first) for p in phrases for first in range(0, max(1, len(p.bars)), bars)]
    order = np.random.default_rng(seed).permutation(len(out))
    return [out[i] for i in order]


def piece_score(phrase: Phrase, first: int, bars: int, rng: np.random.Generator) -> DrumScore:
    """Bars ``first``.. of ``phrase`` as a score, at a randomly stretched tempo."""
    score = phrase_to_score(dataclasses.replace(phrase, bars=phrase.bars[first : first + bars]))
    bpm = score.bpm * 2 ** rng.uniform(-STRETCH_OCTAVES, STRETCH_OCTAVES)
    return score.replace(bpm=float(np.clip(bpm, MIN_BPM, MAX_BPM)))


def material_digest(phrases: Sequence[Phrase]) -> str:
    return hashlib.sha256(pickle.dumps(list(phrases))).hexdigest()[:16]


def shard_path(folder: Path, index: int) -> Path:
    return folder / f"shard-{index:05d}.npz"


def precompute(
    phrases: Sequence[Phrase], codec_dir: Path, folder: Path, plan: Plan,
    max_shards: int | None = None, workers: int = 1,
) -> dict[str, Any]:  # fmt: skip
    """Write the shards of ``plan`` that are not there yet, in ``workers`` processes; returns
    counts and the cost (wall and CPU seconds per minute of material, every stem of it).

    ``max_shards`` stops after that many new shards (the rest are made by a later call).
    """
    identity = codec_identity(codec_dir)
    codec = _codec(codec_dir)
    manifest = dict(identity, kits=list(plan.kits), piece_bars=plan.piece_bars,
                    shard_pieces=plan.shard_pieces, seed=plan.seed,
                    material=material_digest(phrases), sample_rate=codec.sample_rate,
                    frame_rate=codec.config.frame_rate, n_q=codec.config.n_q,
                    card=codec.config.bins, envelope=ENVELOPE, steady=plan.steady,
                    grid=plan.grid)  # fmt: skip
    folder.mkdir(parents=True, exist_ok=True)
    _check_manifest(folder, manifest)
    write_text_atomic(folder / MANIFEST, json.dumps(manifest, indent=1) + "\n")
    chunks, job = _jobs(phrases, plan, codec_dir, folder, identity["codec_sha256"])
    total = chunks * min(plan.passes, len(plan.kits))
    missing = [i for i in range(total) if not shard_path(folder, i).exists()][:max_shards]
    jobs = [job(i) for i in missing]
    seconds = wall = cpu = 0.0
    for n, (job_i, made) in enumerate(zip(jobs, _each(_make_shard, jobs, workers))):
        seconds, wall, cpu = seconds + made[1], wall + made[2], cpu + made[3]
        log.info("shard %d/%d (pass %d, kit %s): %d stems, %.1f min of beats in %.0f s "
                 "(%.0f CPU s); %d of %d new shards made, %.1f s (%.1f CPU s) per minute "
                 "so far", job_i.index + 1, total, job_i.index // chunks + 1,
                 plan.kits[job_i.kit], made[0], made[1] / 60, made[2], made[3], n + 1,
                 len(jobs), 60 * wall / seconds, 60 * cpu / seconds)  # fmt: skip
    done = sum(shard_path(folder, i).exists() for i in range(total))
    per_minute = (lambda x: round(60 * x / seconds, 2) if seconds else None)  # noqa: E731
    return {"shards": total, "done": done, "made": len(jobs), "material_s": round(seconds, 1),
            "s_per_minute": per_minute(wall), "cpu_s_per_minute": per_minute(cpu)}  # fmt: skip


def _jobs(phrases: Sequence[Phrase], plan: Plan, codec_dir: Path, folder: Path,
          codec_sha256: str) -> tuple[int, Callable[[int], _Job]]:  # fmt: skip
    """How many chunks of pieces the material makes, and shard ``i``'s job: pass ``i //
    chunks`` plays chunk ``i % chunks`` through kit ``(chunk + pass) % kits``."""
    todo = pieces(phrases, plan.piece_bars, plan.seed)
    chunks = -(-len(todo) // plan.shard_pieces)

    def job(i: int) -> _Job:
        chunk = i % chunks
        return _Job(codec_dir, shard_path(folder, i), i, (chunk + i // chunks) % len(plan.kits),
                    todo[chunk * plan.shard_pieces : (chunk + 1) * plan.shard_pieces], plan,
                    codec_sha256)  # fmt: skip

    return chunks, job


def _each(work: Callable[[Any], T], jobs: Sequence[Any], workers: int) -> Iterator[T]:
    """``work`` of each of ``jobs`` in order, in ``workers`` processes when there are several."""
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context

    if workers <= 1 or len(jobs) <= 1:
        yield from map(work, jobs)
        return
    pool = ProcessPoolExecutor(workers, mp_context=get_context("spawn"))
    try:
        yield from pool.map(work, jobs)
    finally:
        pool.shutdown(cancel_futures=True)


@dataclass(frozen=True)
class _Job:
    codec_dir: Path
    path: Path
    index: int
    kit: int
    pieces: list[tuple[Phrase, int]]
    plan: Plan
    codec_sha256: str


@lru_cache(maxsize=1)
def _codec(folder: Path) -> Codec:
    from audiogen.codec.model import Codec

    return Codec.load(folder)


def _make_shard(job: _Job) -> tuple[int, float, float, float]:
    """Render, encode and write one shard; (stems, seconds of beats, wall s, CPU s)."""
    import torch

    started, started_cpu = time.perf_counter(), time.process_time()
    codec = _codec(job.codec_dir)
    hop, rate = codec.config.hop_length, codec.config.frame_rate
    examples, seconds = [], 0.0
    for score, _, groups, audio in _shard_renders(job, codec.sample_rate, hop):
        with torch.no_grad():
            codes = codec.encode(audio).cpu().numpy()
        seconds += audio.shape[-1] / codec.sample_rate
        for i, g in enumerate(groups):
            frames = codes.shape[-1]
            score_part = stem_frames(score, g, rate, frames)
            features = np.concatenate([score_part, envelope_frames(audio[i], hop, frames)], axis=1)
            examples.append((codes[i], features, GROUPS.index(g), job.kit))
    _write_shard(job.path, examples, job.codec_sha256)
    return (len(examples), seconds, time.perf_counter() - started,
            time.process_time() - started_cpu)  # fmt: skip


def _shard_renders(job: _Job, sample_rate: int,
                   hop: int) -> Iterator[tuple[DrumScore, int, list[str], np.ndarray]]:  # fmt: skip
    """The renders of ``job``'s shard, the same on every call: (score, the sampler's seed, the
    stem groups it plays, their stems [groups, samples], padded to whole frames of ``hop``)."""
    from audiogen.kits import load_kit
    from audiogen.renderers.sampler import Sampler, Variation

    plan = job.plan
    rng = np.random.default_rng([plan.seed, job.index])
    variation = Variation.none() if plan.steady else Variation()
    sampler = Sampler(load_kit(plan.kits[job.kit]), sample_rate, variation)
    scores = [piece_score(phrase, first, plan.piece_bars, rng) for phrase, first in job.pieces]
    instruments = sorted(sampler.kit.instruments)
    scores += [isolated_hits(instruments, rng) for _ in range(round(ISOLATED_SHARE * len(scores)))]
    if plan.grid:
        scores = [on_grid(score, sample_rate / hop, plan.grid) for score in scores]
    for score in scores:
        seed = int(rng.integers(2**31))
        stems = sampler.render(score, seed=seed).stems
        groups = [g for g in GROUPS if g in stems]
        if not groups:
            continue
        length = max(max(len(stems[g]) for g in groups), round(MIN_SECONDS * sample_rate))
        length = -(-length // hop) * hop
        yield score, seed, groups, np.stack([np.pad(stems[g], (0, length - len(stems[g])))
                                             for g in groups])  # fmt: skip


def add_bands(phrases: Sequence[Phrase], folder: Path, plan: Plan, workers: int = 1) -> int:
    """Add the kit's spectral envelope (`features.band_frames`) to every shard in ``folder`` that
    lacks it, made from the same renders the shard's tokens were encoded from (each shard's
    envelope is checked against them); returns how many shards gained it.

    Raises:
        AudiogenError: no precomputed tokens there, or they were made from other material or
            settings, or a shard's renders no longer come out as they did.
    """
    try:
        manifest = json.loads((folder / MANIFEST).read_text())
    except (OSError, ValueError):
        raise AudiogenError(f"no precomputed tokens in {folder}") from None
    asked = {"kits": list(plan.kits), "piece_bars": plan.piece_bars,
             "shard_pieces": plan.shard_pieces, "seed": plan.seed,
             "material": material_digest(phrases), "steady": plan.steady,
             "grid": plan.grid}  # fmt: skip
    changed = sorted(k for k, v in asked.items() if manifest.get(k, UNNAMED.get(k)) != v)
    if changed:
        raise AudiogenError(f"the tokens in {folder} were made with other settings "
                            f"({', '.join(changed)}): their renders cannot be made "
                            "again")  # fmt: skip
    _, job = _jobs(phrases, plan, Path(), folder, manifest["codec_sha256"])
    rate = int(manifest["sample_rate"])
    hop = rate // int(manifest["frame_rate"])
    jobs = []
    for path in sorted(folder.glob("shard-*.npz")):
        with np.load(path) as data:
            if "bands" not in data.files:
                jobs.append(_BandJob(job(int(path.stem.split("-")[1])), rate, hop))
    for n, path in enumerate(_each(_add_bands, jobs, workers)):
        log.info("bands added to %s (%d of %d)", path.name, n + 1, len(jobs))
    return len(jobs)


@dataclass(frozen=True)
class _BandJob:
    job: _Job
    sample_rate: int
    hop: int


def _add_bands(band_job: _BandJob) -> Path:
    job, hop = band_job.job, band_job.hop
    with np.load(job.path) as data:
        part = {k: data[k] for k in data.files}
    bands, envelope = [], []
    for _, _, groups, audio in _shard_renders(job, band_job.sample_rate, hop):
        frames = audio.shape[-1] // hop
        for i in range(len(groups)):
            bands.append(band_frames(audio[i], hop, frames, band_job.sample_rate))
            envelope.append(envelope_frames(audio[i], hop, frames))
    made = np.concatenate(envelope) if envelope else np.zeros((0, ENVELOPE))
    if made.shape != part["envelope"].shape or np.abs(
        made - part["envelope"].astype(np.float32)
    ).max(initial=0.0) > 0.01:
        raise AudiogenError(f"{job.path}'s renders no longer come out as they were encoded: "
                            "precompute its tokens again")  # fmt: skip
    part["bands"] = (np.concatenate(bands) if bands else np.zeros((0, BANDS))).astype(np.float16)
    with atomic_path(job.path) as tmp, tmp.open("wb") as fh:
        np.savez_compressed(fh, **part)
    return job.path


def _check_manifest(folder: Path, manifest: dict[str, Any]) -> None:
    path = folder / MANIFEST
    if not path.exists():
        return
    old = json.loads(path.read_text())
    if old.get("codec_sha256") != manifest["codec_sha256"]:
        raise AudiogenError(
            f"the tokens in {folder} were made by another codec ({old.get('codec')}, "
            f"{str(old.get('codec_sha256'))[:12]}), not {manifest['codec']} "
            f"({manifest['codec_sha256'][:12]}): precompute into another folder or delete it"
        )
    changed = sorted(k for k in manifest if old.get(k, UNNAMED.get(k)) != manifest[k])
    if changed:
        raise AudiogenError(
            f"the tokens in {folder} were made with other settings ({', '.join(changed)}): "
            "precompute into another folder or delete it"
        )


def _write_shard(path: Path, examples: list[tuple[np.ndarray, np.ndarray, int, int]],
                 codec_sha256: str) -> None:  # fmt: skip
    """One npz: tokens int16 [K, frames of all examples], example starts, stem and kit ids, the
    score features as (frame, column, value) of their non-zero entries, and the envelope float16
    [frames, ENVELOPE] (each example's features are the score's columns, then the envelope's)."""
    starts = np.cumsum([0] + [codes.shape[-1] for codes, _, _, _ in examples])
    both = (np.concatenate([f for _, f, _, _ in examples]) if examples
            else np.zeros((0, FEATURES + ENVELOPE)))  # fmt: skip
    features, envelope = both[:, :FEATURES], both[:, FEATURES:]
    rows, columns = np.nonzero(features)
    tokens = (np.concatenate([c for c, _, _, _ in examples], axis=-1) if examples
              else np.zeros((0, 0)))  # fmt: skip
    with atomic_path(path) as tmp, tmp.open("wb") as fh:
        np.savez_compressed(
            fh, tokens=tokens.astype(np.int16), starts=starts.astype(np.int64),
            stem=np.array([s for _, _, s, _ in examples], dtype=np.int8),
            kit=np.array([k for _, _, _, k in examples], dtype=np.int8),
            feature_frame=rows.astype(np.int64), feature_column=columns.astype(np.int16),
            feature_value=features[rows, columns].astype(np.float32),
            envelope=envelope.astype(np.float16), codec_sha256=np.array(codec_sha256),
        )  # fmt: skip


@dataclass
class Shards:
    """Every shard of a folder in memory, concatenated; windows of it for training."""

    manifest: dict[str, Any]
    tokens: np.ndarray  # int16 [K, frames]
    starts: np.ndarray  # int64 [examples + 1]
    stem: np.ndarray
    kit: np.ndarray
    feature_frame: np.ndarray  # sorted
    feature_column: np.ndarray
    feature_value: np.ndarray
    envelope: np.ndarray | None = None  # float16 [frames, ENVELOPE]; None in older shards
    bands: np.ndarray | None = None  # float16 [frames, BANDS]; where `add_bands` made them

    @property
    def width(self) -> int:
        """Columns of each frame's features: the score's, then the envelope's and the bands' where
        there are some."""
        return FEATURES + sum(0 if a is None else a.shape[1] for a in (self.envelope, self.bands))

    @property
    def grid(self) -> int:
        """Positions a frame the material's hits sit at (`Plan.grid`; 0: where played)."""
        return int(self.manifest.get("grid", UNNAMED["grid"]))

    @property
    def examples(self) -> int:
        return len(self.stem)

    @classmethod
    def load(cls, folder: Path, codec_sha256: str | None = None) -> Shards:
        """All shards in ``folder``; refused in one line when the codec is not ``codec_sha256``
        or no shard is there."""
        try:
            manifest = json.loads((folder / MANIFEST).read_text())
        except (OSError, ValueError):
            raise AudiogenError(
                f"no precomputed tokens in {folder}: run pipelines/train_renderer.py "
                f"--precompute --tokens {folder}"
            ) from None
        if codec_sha256 is not None and manifest.get("codec_sha256") != codec_sha256:
            raise AudiogenError(
                f"the tokens in {folder} were made by {manifest.get('codec')} "
                f"({str(manifest.get('codec_sha256'))[:12]}), not by this codec "
                f"({codec_sha256[:12]}): precompute them again into another folder"
            )
        parts = []
        for path in sorted(folder.glob("shard-*.npz")):
            with np.load(path) as data:
                part = {k: data[k] for k in data.files}
            if str(part.pop("codec_sha256")) != manifest["codec_sha256"]:
                raise AudiogenError(f"{path} was made by another codec than {folder}'s: delete it")
            if len(part["stem"]):  # a shard whose pieces all played nothing adds nothing
                parts.append(part)
        if not parts:
            raise AudiogenError(f"no shards in {folder} yet: run the precompute first")
        frames = np.cumsum([0] + [p["tokens"].shape[-1] for p in parts[:-1]])
        return cls(
            manifest=manifest,
            tokens=np.concatenate([p["tokens"] for p in parts], axis=-1),
            starts=np.concatenate([p["starts"][:-1] + f for p, f in zip(parts, frames)]
                                  + [np.array([frames[-1] + parts[-1]["starts"][-1]])]),
            stem=np.concatenate([p["stem"] for p in parts]),
            kit=np.concatenate([p["kit"] for p in parts]),
            feature_frame=np.concatenate([p["feature_frame"] + f for p, f in zip(parts, frames)]),
            feature_column=np.concatenate([p["feature_column"] for p in parts]),
            feature_value=np.concatenate([p["feature_value"] for p in parts]),
            envelope=(np.concatenate([p["envelope"] for p in parts])
                      if all("envelope" in p for p in parts) else None),
            bands=(np.concatenate([p["bands"] for p in parts])
                   if all("bands" in p for p in parts) else None),
        )  # fmt: skip

    def example(self, i: int) -> tuple[np.ndarray, np.ndarray, int, int]:
        """Example ``i`` whole: tokens int64 [K, T], features [T, width], stem, kit."""
        a, b = int(self.starts[i]), int(self.starts[i + 1])
        tokens, features, _ = self.window(a, b - a, b)
        return tokens, features, int(self.stem[i]), int(self.kit[i])

    def window(self, start: int, frames: int, end: int) -> tuple[np.ndarray, np.ndarray, int]:
        """Tokens [K, frames] and features [frames, width] from global frame ``start``, cut at
        ``end`` and padded with zeros; and how many frames are real."""
        valid = max(0, min(frames, end - start))
        tokens = np.zeros((self.tokens.shape[0], frames), dtype=np.int64)
        tokens[:, :valid] = self.tokens[:, start : start + valid]
        features = np.zeros((frames, self.width), dtype=np.float32)
        lo, hi = np.searchsorted(self.feature_frame, [start, start + valid])
        features[self.feature_frame[lo:hi] - start, self.feature_column[lo:hi]] = (
            self.feature_value[lo:hi]
        )
        column = FEATURES
        for extra in (self.envelope, self.bands):
            if extra is not None:
                features[:valid, column : column + extra.shape[1]] = extra[start : start + valid]
                column += extra.shape[1]
        return tokens, features, valid

    def batch(self, rng: np.random.Generator, size: int, frames: int,
              among: np.ndarray | None = None, stem_weight: np.ndarray | None = None,
              ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
        """``size`` random windows (examples drawn by their length, times ``stem_weight`` of their
        stem group if given; only ``among`` these example indices if given): tokens [B, K, frames],
        features [B, frames, F], stem [B], kit [B] and real frames [B]."""
        among = np.arange(self.examples) if among is None else among
        chance = np.diff(self.starts)[among].astype(np.float64)
        if stem_weight is not None:
            chance *= stem_weight[self.stem[among]]
        picks = among[rng.choice(len(among), size=size, p=chance / chance.sum())]
        out = []
        for i in picks:
            a, b = int(self.starts[i]), int(self.starts[i + 1])
            start = a + int(rng.integers(max(1, b - a - frames + 1)))
            out.append(self.window(start, frames, b))
        return (np.stack([t for t, _, _ in out]), np.stack([f for _, f, _ in out]),
                self.stem[picks].astype(np.int64), self.kit[picks].astype(np.int64),
                np.array([v for _, _, v in out]))  # fmt: skip
