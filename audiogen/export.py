"""Export stage: a `Beat` becomes ``<out>/mix.<fmt>``, ``stems/<group>.<fmt>``, ``beat.mid``,
``grid.png`` (a drum-grid picture of the score), ``manifest.json`` and, for a varied beat,
``sections/<name>.mid``. Everything is written
into a hidden sibling folder first and renamed into place, so an interrupted or failed run
leaves nothing half-written."""

from __future__ import annotations

import errno
import json
import logging
import os
import platform
import re
import secrets
import shutil
import struct
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from fractions import Fraction
from importlib import metadata
from itertools import chain
from pathlib import Path
from typing import TYPE_CHECKING, Any

import soundfile as sf

from audiogen.audiofiles import LOSSLESS, Measured, write_audio, write_measured
from audiogen.errors import OutputError
from audiogen.files import pid_alive, sha256
from audiogen.kits import Kit, load_kit, parse_blend, samples_dir
from audiogen.midi import write_midi
from audiogen.picture import save_grid
from audiogen.score import TICKS_PER_QUARTER, DrumScore

if TYPE_CHECKING:
    from audiogen.beat import Beat

log = logging.getLogger(__name__)
_VERSIONED = ("numpy", "scipy", "mido", "soundfile", "pedalboard", "pyloudnorm")
GROOVE_ATTRIBUTION = (
    "Drum performances from the Groove MIDI Dataset v1.0.0 by Google LLC (Magenta), "
    "J. Gillick, A. Roberts, J. Engel, D. Eck, D. Bamman, ICML 2019, "
    "https://magenta.tensorflow.org/datasets/groove, licensed under CC BY 4.0 "
    "(https://creativecommons.org/licenses/by/4.0/); re-mapped to audiogen's drum classes."
)


# The longest name one folder entry may have on the file systems audiogen writes to (ext4, APFS,
# NTFS all count 255), and room for the longest file inside an output (stems/<group>.flac...).
NAME_MAX = 255
_INNER_PATH = 32
# What a run stages beside its output and swaps out of the way: hidden, with the writer's pid, so
# a later run can tell a dead run's leftovers from a live run's work.
_STAGED = re.compile(r"^\..*\.(partial|old)-(\d+)-[0-9a-f]+$")


def check_writable(out_dir: Path, force: bool) -> None:
    """Fail before any work if ``out_dir`` cannot be written: it exists without ``force``, it
    is not a folder audiogen wrote (``force`` replaces only those), its name is empty or too
    long, or its parent cannot be made or written."""
    if "\x00" in str(out_dir):  # no file system takes it; Python's os calls raise ValueError
        raise OutputError(f"output folder {str(out_dir)!r}: a path cannot hold a NUL character")
    if out_dir.name in ("", ".", "..") or not out_dir.name.strip():
        raise OutputError(
            f"output folder {str(out_dir)!r}: name a new folder (such as out/my-beat), not the "
            "current or a parent folder"
        )
    for part in out_dir.parts:
        if len(os.fsencode(part)) > NAME_MAX:
            raise OutputError(
                f"output folder name {part[:20]}... is {len(os.fsencode(part))} bytes long: "
                f"file systems take at most {NAME_MAX}; choose a shorter -o"
            )
    path_max = _path_max(out_dir)
    if len(os.fsencode(os.path.abspath(out_dir))) + _INNER_PATH > path_max:
        raise OutputError(
            f"output path is too long: its files would pass the {path_max}-byte limit on a "
            "path; choose a shorter -o"
        )
    if out_dir.exists() and not force:
        raise OutputError(f"{out_dir} already exists: choose another -o or pass --force")
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError(f"{out_dir} exists and is not a folder")
    if out_dir.exists():
        _check_replaceable(out_dir)
    parent = out_dir.resolve().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OutputError(f"cannot create {parent}: {exc.strerror}") from None
    if not os.access(parent, os.W_OK):
        raise OutputError(f"cannot write to {parent}: permission denied")


def _path_max(path: Path) -> int:
    """The longest path the file system under ``path`` takes (4096 where it cannot say)."""
    for folder in Path(os.path.abspath(path)).parents:
        try:
            return os.pathconf(folder, "PC_PATH_MAX")
        except (OSError, ValueError, AttributeError):  # not there yet; no pathconf (Windows)
            continue
    return 4096


def _check_replaceable(out_dir: Path) -> None:
    """``--force`` replaces an empty folder or one audiogen wrote: its manifest lists every file
    in it. Anything else (a music library, the current folder) is refused, never deleted."""
    present = (str(p.relative_to(out_dir)) for p in out_dir.rglob("*") if not p.is_dir())
    first = next(present, None)
    if first is None:
        return
    try:
        manifest = json.loads((out_dir / "manifest.json").read_text(encoding="utf-8"))
        listed = set(manifest["files"]) | {"manifest.json"}
        ours = isinstance(manifest, dict) and "audiogen" in manifest
    except (OSError, ValueError, KeyError, TypeError):
        ours, listed = False, set()
    # Stops at the first stranger: a music library is not walked to the end.
    strangers = (name for name in chain([first], present) if name not in listed)
    other = first if not ours else next(strangers, None)
    if other is not None:
        raise OutputError(
            f"{out_dir} holds files audiogen did not write (such as {other}): --force only "
            "replaces an audiogen output folder; choose another -o"
        )


def clear_leftovers(parent: Path) -> None:
    """Remove what a killed run left in ``parent``: its staging and swapped-out folders, whose
    writer is gone (another run's, still writing, are left alone)."""
    try:
        children = list(parent.iterdir())
    except OSError:
        return
    for child in children:
        match = _STAGED.match(child.name)
        if match and int(match.group(2)) != os.getpid() and not pid_alive(int(match.group(2))):
            shutil.rmtree(child, ignore_errors=True)


def _staged_name(out_dir: Path, kind: str) -> Path:
    """A hidden sibling of ``out_dir`` named for it (shortened: the name must stay legal)."""
    return out_dir.with_name(f".{out_dir.name[:40]}.{kind}-{os.getpid()}-{secrets.token_hex(4)}")


def save_beat(beat: Beat, out_dir: Path, force: bool = False) -> Path:
    """Write a beat's files to ``out_dir`` (created; replaced only with ``force``, and only
    when audiogen wrote it).

    Returns:
        ``out_dir``.

    Raises:
        OutputError: the folder exists without ``force`` or holds other files, the disk is
            full, or it cannot be written.
    """
    with staged_folder(out_dir, force) as staging:
        _write_all(beat, staging)
    return out_dir


@contextmanager
def staged_folder(out_dir: Path, force: bool = False) -> Iterator[Path]:
    """A hidden sibling folder to write ``out_dir``'s files into; when the block ends without
    an error it takes ``out_dir``'s place (replacing it only with ``force``, and only when
    audiogen wrote it), otherwise it is removed.

    Raises:
        OutputError: as `save_beat`.
    """
    check_writable(out_dir, force)
    parent = out_dir.resolve().parent
    clear_leftovers(parent)
    staging = _staged_name(out_dir.resolve(), "partial")
    try:
        staging.mkdir()  # mode as the umask says (mkdtemp's would be 0700)
    except OSError as exc:
        raise OutputError(_write_failure(out_dir, exc)) from None
    try:
        yield staging
        _swap_into_place(staging, out_dir)
    except (OSError, sf.LibsndfileError) as exc:
        raise OutputError(_write_failure(out_dir, exc)) from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_failure(out_dir: Path, exc: Exception) -> str:
    """What went wrong writing ``out_dir``, in words: libsndfile reports a full disk as a bare
    system error, so the free space is asked too."""
    try:
        full = shutil.disk_usage(out_dir.resolve().parent).free < 1 << 20
    except OSError:
        full = False
    if getattr(exc, "errno", None) == errno.ENOSPC or full:
        return f"the disk is full writing {out_dir}: free some space and run again"
    detail = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
    return f"writing {out_dir} failed: {detail}"


def _swap_into_place(staging: Path, out_dir: Path) -> None:
    if not out_dir.exists():
        staging.rename(out_dir)
        return
    old = _staged_name(out_dir, "old")
    out_dir.rename(old)
    try:
        staging.rename(out_dir)
    except OSError:
        old.rename(out_dir)
        raise
    shutil.rmtree(old, ignore_errors=True)


def stems_over_full_scale(beat: Beat) -> bool:
    """Whether a stem peaks over 0 dBFS: stems sum to the master before its limiter, so a beat
    limited hard has stems louder than the master."""
    from audiogen.mix.dynamics import peak_of

    return any(peak_of(audio) >= 1.0 for audio in beat.stems.values())


def _write_all(beat: Beat, folder: Path) -> None:
    (folder / "stems").mkdir()
    files: list[Path] = []
    # 24-bit WAV would clip a stem over full scale and break the sum; 32-bit float keeps it.
    stem_subtype = "FLOAT" if stems_over_full_scale(beat) else None
    if stem_subtype and set(beat.request.formats) & {"flac", "mp3"}:
        log.warning(
            "stems peak over 0 dBFS (the master's limiter took %.1f dB off): FLAC and MP3 stems "
            "clip there; WAV stems are written as 32-bit float",
            beat.loudness.limiting_db,
        )
    report = beat.loudness
    tracks = {"mix": beat.mix, **beat.stems}

    def write_track(name: str) -> dict[str, tuple[Path, Measured]]:
        """Every format of one track, each measured as delivered. Lossless files hold the
        samples written: a track is measured once whatever its lossless formats, and the
        master was measured by loudness normalisation itself."""
        audio, stem = tracks[name], name != "mix"
        lossless = None if stem else Measured(report.integrated_lufs, report.true_peak_dbtp,
                                              decoded=False)  # fmt: skip
        written = {}
        for fmt in beat.request.formats:
            path = folder / "stems" / f"{name}.{fmt}" if stem else folder / f"mix.{fmt}"
            subtype = stem_subtype if stem else None
            if fmt in LOSSLESS and lossless is not None:
                write_audio(path, audio, beat.sample_rate, fmt, subtype)
                measure = lossless
            else:
                ceiling = None if stem else report.ceiling_dbtp
                measure = write_measured(path, audio, beat.sample_rate, fmt, ceiling, subtype)
                if fmt in LOSSLESS:
                    lossless = measure
            if beat.loop is not None and fmt == "wav":
                add_loop_chunks(path, beat.loop.samples, beat.score, beat.sample_rate)
            written[fmt] = path, measure
        return written

    # Tracks are written side by side, and the grid picture beside them: encoding and metering
    # release the GIL.
    with ThreadPoolExecutor(max_workers=min(len(tracks), os.cpu_count() or 1, 4)) as pool:
        grid = pool.submit(save_grid, beat.score, folder / "grid.png", title=_title(beat))
        done = dict(zip(tracks, pool.map(write_track, tracks), strict=True))
    measured: dict[str, Measured] = {}
    for fmt in beat.request.formats:
        for name in tracks:
            path, measure = done[name][fmt]
            measured[str(path.relative_to(folder))] = measure
            files.append(path)
    write_midi(beat.score, folder / "beat.mid")
    files.append(folder / "beat.mid")
    if beat.parts:  # a varied beat's sections, each a MIDI clip to drop into a DAW
        (folder / "sections").mkdir()
        for name, part in beat.parts.items():
            write_midi(part, folder / "sections" / f"{name}.mid")
            files.append(folder / "sections" / f"{name}.mid")
    files.append(grid.result())
    manifest = build_manifest(beat, {str(f.relative_to(folder)): f for f in files}, measured)
    (folder / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")


def _title(beat: Beat) -> str:
    score = beat.score
    name = score.provenance.source.split(":", 1)[-1]
    return (
        f"{name} · {score.bpm:g} bpm · {score.meter} · {score.bars} bars · kit {beat.request.kit}"
    )


def add_loop_chunks(path: Path, loop_samples: int, score: DrumScore, sample_rate: int) -> None:
    """Append ``smpl`` (loop points) and ``acid`` (tempo, beats, meter) chunks to a WAV file.

    ``smpl`` makes samplers and editors loop the whole file (forward, endlessly; its end point
    is the last sample, inclusive, as the chunk counts it). ``acid`` lets DAWs sync the loop to
    their tempo. The RIFF size is patched; the audio data is untouched.
    """
    beats = Fraction(score.total_ticks, TICKS_PER_QUARTER)
    sample_period_ns = round(1e9 / sample_rate)
    # manufacturer, product, sample period, MIDI unity note (C4), pitch fraction, SMPTE format
    # and offset, one loop, no sampler data; then the loop: id, forward, start, end, fraction,
    # play count (0: forever).
    smpl = struct.pack(
        "<9I6I", 0, 0, sample_period_ns, 60, 0, 0, 0, 1, 0, 0, 0, 0, loop_samples - 1, 0, 0
    )
    # flags (0x04: stretch; not one-shot, no root note), root note, two fields ACID leaves as
    # 0x8000 and 0.0, number of beats, meter denominator and numerator, tempo.
    acid = struct.pack(
        "<IHHfIHHf", 0x04, 60, 0x8000, 0.0, round(beats), score.meter.denominator,
        score.meter.numerator, float(score.bpm),
    )  # fmt: skip
    with path.open("r+b") as fh:
        header = fh.read(12)
        if header[:4] != b"RIFF" or header[8:12] != b"WAVE":
            raise OutputError(f"{path.name} is not a RIFF WAVE file")
        fh.seek(0, os.SEEK_END)
        if fh.tell() % 2:  # chunks start on even offsets
            fh.write(b"\0")
        for chunk_id, body in ((b"smpl", smpl), (b"acid", acid)):
            fh.write(chunk_id + struct.pack("<I", len(body)) + body)
        size = fh.tell() - 8
        fh.seek(4)
        fh.write(struct.pack("<I", size))


def read_loop_chunks(path: Path) -> dict[str, Any]:
    """The loop points and tempo of a WAV file's ``smpl`` and ``acid`` chunks ({} if none)."""
    data = Path(path).read_bytes()
    found: dict[str, Any] = {}
    offset = 12
    while offset + 8 <= len(data):
        chunk_id, size = data[offset : offset + 4], struct.unpack_from("<I", data, offset + 4)[0]
        body = data[offset + 8 : offset + 8 + size]
        if chunk_id == b"smpl" and len(body) >= 60:
            fields = struct.unpack_from("<9I6I", body)
            found["loop_start"], found["loop_end"] = fields[11], fields[12]
            found["loop_type"], found["play_count"] = fields[10], fields[14]
        elif chunk_id == b"acid" and len(body) >= 24:
            flags, _, _, _, beats, denominator, numerator, tempo = struct.unpack_from(
                "<IHHfIHHf", body
            )
            found.update(
                acid_flags=flags, beats=beats, meter=f"{numerator}/{denominator}", bpm=tempo
            )
        offset += 8 + size + size % 2
    return found


def _kit_sources(kit: Kit, files: tuple[Path, ...]) -> dict[str, Any]:
    """The kit a beat was played with: a shipped kit by name, the user's own by its path with a
    checksum of every sample used (what was played can be told from what is there later)."""
    if not kit.user:
        root = samples_dir()
        return {
            "kit": {"name": kit.name, "source": kit.source, "license": kit.license},
            "samples": [str(p.relative_to(root)) for p in files],
            "licenses": "samples/LICENSES.md",
        }
    base = kit.path if kit.path.is_dir() else kit.path.parent
    return {
        "kit": {"path": str(kit.path), "title": kit.title, "source": kit.source,
                "license": kit.license, "notes": list(kit.notes)},
        "samples": [
            {"file": kit.labels.get(p) or _relative_to(p, base), "sha256": sha256(p)}
            for p in files
        ],
        "licenses": "the user's own kit: the rights in its sounds are the user's business",
    }  # fmt: skip


def _relative_to(path: Path, base: Path) -> str:
    try:
        return str(path.relative_to(base))
    except ValueError:
        return str(path)


def build_manifest(
    beat: Beat, files: dict[str, Path], measured: dict[str, Measured] | None = None
) -> dict[str, Any]:
    """Everything that went into a beat: request, score summary, sources and their licences,
    measured loudness, software versions, and a checksum per written file (with each audio
    file's own loudness and true peak, as delivered)."""
    measured = measured or {}
    kits = [load_kit(name, beat.request.preset_name)
            for name in parse_blend(beat.request.kit) or [beat.request.kit]]  # fmt: skip
    score = beat.score
    attributions = [
        f"Drum kit '{kit.title}': {kit.source} ({kit.license}); the rights in these sounds are "
        "the user's business" if kit.user else
        f"Drum kit '{kit.name}': {kit.source} ({kit.license}); see samples/LICENSES.md"
        for kit in kits
    ]  # fmt: skip
    # The planner learned from the Groove MIDI Dataset, so what it writes carries its credit.
    if score.provenance.source.startswith("groove") or "planner" in dict(score.provenance.models):
        attributions.append(GROOVE_ATTRIBUTION)
    report = beat.loudness
    with ThreadPoolExecutor(max_workers=max(1, min(len(files), os.cpu_count() or 1, 4))) as pool:
        digests = dict(zip(files, pool.map(sha256, files.values()), strict=True))  # GIL released
    return {
        "audiogen": _version("audiogen"),
        "request": beat.request.to_dict(),
        "plan": beat.plan,
        "prompt": beat.prompt.to_dict() if beat.prompt is not None else None,
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
            "name": beat.request.renderer,
            **_neural_models(beat),
            "substitutions": beat.substitutions,
            "dropped": beat.dropped,
        },
        "loudness": {
            "target_lufs": report.target_lufs,
            "integrated_lufs": round(report.integrated_lufs, 2),
            "true_peak_dbtp": round(report.true_peak_dbtp, 2),
            "ceiling_dbtp": report.ceiling_dbtp,
            "limiting_db": round(report.limiting_db, 1),
            "stopped_short_lu": round(report.stopped_short_lu, 2),
            "drive": {
                "parallel_compression_db": round(report.drive.parallel_db, 1),
                "clip_db": round(report.drive.clip_db, 1),
                "bus_clip_db": round(report.drive.bus_clip_db, 1),
                "peak_reduction_db": round(report.drive.peak_reduction_db, 1),
            },
        },
        "audio": {
            "sample_rate": beat.sample_rate,
            "duration_s": round(beat.duration_s, 6),
            "samples": int(beat.mix.shape[1]),
            "stems": sorted(beat.stems),
            "stems_sum_to": "the master before its true-peak limiter (see README: stems)",
            "stem_wav_subtype": "FLOAT" if stems_over_full_scale(beat) else "PCM_24",
            "fade_in_s": beat.request.fade_in_s,
            "fade_out_s": beat.request.fade_out_s,
        },
        "loop": _loop_manifest(beat),
        "sources": _kit_sources(kits[0], beat.kit_files) if len(kits) == 1 else {
            "kits": [_kit_sources(kit, ())["kit"] for kit in kits],  # a blend: the model's kits
            "samples": [],
            "licenses": "samples/LICENSES.md",
        },
        "attributions": attributions,
        "versions": {
            "python": platform.python_version(),
            **{name: _version(name) for name in _VERSIONED},
        },
        "files": {
            name: {
                "sha256": digests[name],
                "bytes": path.stat().st_size,
                **(measured[name].to_dict() if name in measured else {}),
            }
            for name, path in sorted(files.items())
        },
    }


def _loop_manifest(beat: Beat) -> dict[str, Any] | None:
    if beat.loop is None:
        return None
    loop = beat.loop
    return {
        "samples": loop.samples,
        "exact_samples": str(loop.exact),
        "rounding": "to the nearest sample; hits keep their own nearest-sample positions",
        "error_samples_per_pass": round(loop.error_samples, 6),
        "beats": str(loop.beats),
        "bpm": beat.score.bpm,
        "seam_error": beat.seam_error,
        "wav_chunks": ["smpl", "acid"] if "wav" in beat.request.formats else [],
    }


def _version(dist: str) -> str:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return "unknown"


def _neural_models(beat: Beat) -> dict[str, Any]:
    """The checkpoints behind a neural render (their cards name their training data)."""
    return {"models": dict(beat.models)} if beat.models else {}
