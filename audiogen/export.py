"""Export stage: a `Beat` becomes ``<out>/mix.<fmt>``, ``stems/<group>.<fmt>``, ``beat.mid``,
``grid.png`` (a drum-grid picture of the score) and ``manifest.json``. Everything is written
into a hidden sibling folder first and renamed into place, so an interrupted or failed run
leaves nothing half-written."""

from __future__ import annotations

import hashlib
import json
import os
import platform
import shutil
import tempfile
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import soundfile as sf

from audiogen.errors import OutputError
from audiogen.kits import load_kit, samples_dir
from audiogen.midi import write_midi
from audiogen.picture import save_grid

if TYPE_CHECKING:
    from audiogen.api import Beat

# soundfile (libsndfile) format and subtype per output kind; 24-bit where the format has bits.
_FORMATS = {"wav": ("WAV", "PCM_24"), "flac": ("FLAC", "PCM_24"), "mp3": ("MP3", "MPEG_LAYER_III")}
_VERSIONED = ("numpy", "scipy", "mido", "soundfile", "pedalboard", "pyloudnorm")
GROOVE_ATTRIBUTION = (
    "Drum performances from the Groove MIDI Dataset v1.0.0 by Google LLC (Magenta), "
    "J. Gillick, A. Roberts, J. Engel, D. Eck, D. Bamman, ICML 2019, "
    "https://magenta.tensorflow.org/datasets/groove, licensed under CC BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/); re-mapped to audiogen's drum classes."
)


def check_writable(out_dir: Path, force: bool) -> None:
    """Fail before any work if ``out_dir`` cannot be written (exists without force, bad parent)."""
    if out_dir.exists() and not force:
        raise OutputError(f"{out_dir} already exists: choose another -o or pass --force")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} exists and is not a folder")
    parent = out_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {parent}: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write to {parent}: permission denied")


def save_beat(beat: Beat, out_dir: Path, force: bool = False) -> Path:
    """Write a beat's files to ``out_dir`` (created; replaced only with ``force``).

    Returns:
        ``out_dir``.

    Raises:
        OutputError: the folder exists without ``force``, or cannot be written.
    """
    check_writable(out_dir, force)
    parent = out_dir.resolve().parent
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{out_dir.name}.partial-", dir=parent))
    except OSError as exc:
        raise OutputError(f"cannot write to {parent}: {exc.strerror}") from None
    try:
        _write_all(beat, staging)
        _swap_into_place(staging, out_dir)
    except OSError as exc:
        raise OutputError(f"writing {out_dir} failed: {exc}") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return out_dir


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    old = out_dir.with_name(f".{out_dir.name}.old-{os.getpid()}")
    out_dir.rename(old)
    try:
        staging.rename(out_dir)
    except OSError:
        old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def _write_all(beat: Beat, folder: Path) -> None:
    (folder / "stems").mkdir()
    files: list[Path] = []
    for fmt in beat.request.formats:
        files.append(write_audio(folder / f"mix.{fmt}", beat.mix, beat.sample_rate, fmt))
        for group, audio in beat.stems.items():
            files.append(
                write_audio(folder / "stems" / f"{group}.{fmt}", audio, beat.sample_rate, fmt)
            )
    write_midi(beat.score, folder / "beat.mid")
    files.append(folder / "beat.mid")
    files.append(save_grid(beat.score, folder / "grid.png", title=_title(beat)))
    manifest = build_manifest(beat, {str(f.relative_to(folder)): f for f in files})
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _title(beat: Beat) -> str:
    score = beat.score
    name = score.provenance.source.split(":", 1)[-1]
    return (
        f"{name} · {score.bpm:g} bpm · {score.meter} · {score.bars} bars · kit {beat.request.kit}"
    )


def write_audio(path: Path, audio: np.ndarray, sample_rate: int, fmt: str) -> Path:
    """Write (channels, n) float audio; WAV and FLAC at 24 bits."""
    container, subtype = _FORMATS[fmt]
    sf.write(path, np.ascontiguousarray(audio.T), sample_rate, format=container, subtype=subtype)
    return path


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def build_manifest(beat: Beat, files: dict[str, Path]) -> dict[str, Any]:
    """Everything that went into a beat: request, score summary, sources and their licences,
    measured loudness, software versions, and a checksum per written file."""
    kit = load_kit(beat.request.kit)
    root = samples_dir()
    score = beat.score
    attributions = [f"Drum kit '{kit.name}': {kit.source} ({kit.license}); see samples/LICENSES.md"]
    # The planner learned from the Groove MIDI Dataset, so what it writes carries its credit.
    if score.provenance.source.startswith("groove") or "planner" in dict(score.provenance.models):
        attributions.append(GROOVE_ATTRIBUTION)
    report = beat.loudness
    return {
        "audiogen": _version("audiogen"),
        "request": beat.request.to_dict(),
        "seed": beat.request.seed,
        "score": {
            "bpm": score.bpm,
            "meter": str(score.meter),
            "bars": score.bars,
            "hits": len(score.hits),
            "duration_s": round(score.duration_s, 6),
            "sections": [
                {"name": s.name, "first_bar": s.first_bar, "bars": s.bars, "energy": s.energy}
                for s in score.sections
            ],
            "provenance": score.provenance.to_dict(),
        },
        "renderer": {
            "name": "sample",
            "substitutions": beat.substitutions,
            "dropped": beat.dropped,
        },
        "loudness": {
            "target_lufs": report.target_lufs,
            "integrated_lufs": round(report.integrated_lufs, 2),
            "true_peak_dbtp": round(report.true_peak_dbtp, 2),
            "ceiling_dbtp": report.ceiling_dbtp,
        },
        "audio": {
            "sample_rate": beat.sample_rate,
            "duration_s": round(beat.duration_s, 6),
            "stems": sorted(beat.stems),
        },
        "sources": {
            "kit": {"name": kit.name, "source": kit.source, "license": kit.license},
            "samples": [str(p.relative_to(root)) for p in beat.kit_files],
            "licenses": "samples/LICENSES.md",
        },
        "attributions": attributions,
        "versions": {
            "python": platform.python_version(),
            **{name: _version(name) for name in _VERSIONED},
        },
        "files": {
            name: {"sha256": sha256(path), "bytes": path.stat().st_size}
            for name, path in sorted(files.items())
        },
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"
