"""Shared tools of the kit build scripts: audio conditioning, kit folders, manifests, checks.

Build-time only. The product reads the finished ``samples/kits/<name>/`` folders, never this
module. Every one-shot goes through `condition` (mono, 48 kHz, no DC, onset at sample 0, tail
faded and trimmed) and `normalise_instrument` (loudest layer at -1 dBFS, softer layers keep their
level relative to it), and every written kit is read back and checked by `check_kit`.
"""

from __future__ import annotations

import math
import shutil
import sys
import tempfile
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf
from scipy.signal import butter, lfilter, resample_poly, sosfilt

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))  # run as a script from anywhere: audiogen holds the classes

from audiogen.instruments import GROUP_OF, INSTRUMENTS  # noqa: E402

SR = 48_000
SUBTYPE = "PCM_24"  # headroom for soft layers and quiet tails; the budget allows it
TOP_PEAK_DBFS = -1.0  # where the velocity-127 layer of every class peaks
ONSET_DB = -50.0  # a sample this far below the peak counts as sound: the onset
# Cut at a slightly higher level than the check uses: a source with noise hovering near -50 dB
# before its attack would otherwise start on a sample that rounding pushes back under the line.
TRIM_DB = -48.0
# Some sources creep in (a hand brushing a conga, a breath of noise) for a millisecond or two
# between -48 and -40 dB before the strike. An onset detector listening at -40 dB would hear the
# hit that much late, so the file starts at most 4 samples before the -40 dB point instead.
ATTACK_DB = -40.0
ONSET_TOLERANCE_S = 1e-4  # the onset must lie within the first 0.1 ms
TAIL_DB = -60.0  # a tail this far below the peak is silence and is cut
STYLES = ("acoustic", "electronic", "hiphop")

# The longest a class may ring. Long tails cost space and the renderer mixes them under the next
# bars anyway; a crash keeps its bloom, a closed hat is short by nature.
_MAX_S_GROUP = {"kick": 0.9, "snare": 0.7, "hats": 0.5, "cymbals": 2.5, "toms": 1.0, "perc": 0.7}
_MAX_S_CLASS = {
    "hat_open": 1.2,
    "splash": 1.8,
    "ride_bell": 2.2,
    "triangle": 1.6,
    "agogo_high": 0.9,
    "agogo_low": 0.9,
    "guiro": 0.8,
    "conga_low": 0.9,
    "timbale_high": 0.9,
    "timbale_low": 0.9,
}

# Short-term loudness each class should have relative to the snare at the same velocity, in dB,
# as a drummer balances a kit: the kick a little above (its energy sits where the ear and the
# K-weighting are least sensitive), hats and shakers well under. The manifest's gain_db is what
# moves each sample (all peak-normalised) to this balance.
BALANCE_DB = {
    "kick": 2.0, "snare": 0.0, "rim": -7.0, "clap": -1.0,
    "hat_closed": -10.0, "hat_pedal": -12.0, "hat_open": -8.0,
    "crash": -5.0, "splash": -7.0, "china": -6.0, "ride": -9.0, "ride_bell": -8.0,
    "tom_high": -2.0, "tom_mid": -2.0, "tom_low": -2.0,
    "cowbell": -8.0, "tambourine": -10.0, "shaker": -12.0, "clave": -8.0,
    "woodblock_high": -8.0, "woodblock_low": -8.0,
    "bongo_high": -6.0, "bongo_low": -6.0, "conga_high": -5.0, "conga_low": -5.0,
    "timbale_high": -5.0, "timbale_low": -5.0, "agogo_high": -8.0, "agogo_low": -8.0,
    "guiro": -10.0, "triangle": -12.0,
}  # fmt: skip


def max_seconds(cls: str) -> float:
    return _MAX_S_CLASS.get(cls, _MAX_S_GROUP[GROUP_OF[cls]])


def db(value: float) -> float:
    return 20.0 * math.log10(max(value, 1e-12))


def undb(value: float) -> float:
    return 10.0 ** (value / 20.0)


# ---------------------------------------------------------------------------------------------
# Audio conditioning


def to_mono(audio: np.ndarray) -> np.ndarray:
    audio = np.asarray(audio, dtype=np.float64)
    return audio.mean(axis=1) if audio.ndim == 2 else audio


def resample(audio: np.ndarray, rate: int) -> np.ndarray:
    """To 48 kHz with a polyphase filter (exact rational ratio, no drift of the onset)."""
    if rate == SR:
        return audio
    g = math.gcd(SR, rate)
    return resample_poly(audio, SR // g, rate // g)


def read_source(path: Path) -> np.ndarray:
    """A source file as mono float64 at 48 kHz."""
    data, rate = sf.read(path, dtype="float64", always_2d=True)
    return resample(to_mono(data), rate)


def remove_dc(audio: np.ndarray) -> np.ndarray:
    # A causal first-order high-pass at 10 Hz: removes offset without ringing before the onset
    # (a zero-phase filter would smear energy ahead of the attack) and leaves kicks untouched.
    b, a = butter(1, 10.0 / (SR / 2), btype="highpass")
    return lfilter(b, a, audio)


def onset_index(audio: np.ndarray, threshold_db: float = ONSET_DB) -> int:
    peak = float(np.max(np.abs(audio)))
    if peak == 0.0:
        return 0
    return int(np.argmax(np.abs(audio) > peak * undb(threshold_db)))


def _envelope(audio: np.ndarray, window_s: float = 0.005) -> np.ndarray:
    n = max(1, round(window_s * SR))
    power = np.convolve(audio * audio, np.ones(n) / n, mode="same")
    return np.sqrt(np.maximum(power, 0.0))


def condition(audio: np.ndarray, cls: str, max_s: float | None = None) -> np.ndarray:
    """One hit (mono, 48 kHz, any leading silence) -> a one-shot ready for a kit.

    Removes DC, cuts everything before the onset (see TRIM_DB and ATTACK_DB), finds where the
    tail falls below -60 dB (or the class's length cap) and fades out to exactly zero there.
    """
    limit = max_seconds(cls) if max_s is None else max_s
    audio = remove_dc(np.asarray(audio, dtype=np.float64))
    start = max(onset_index(audio, TRIM_DB), onset_index(audio, ATTACK_DB) - 4)
    audio = audio[start:]
    audio = audio[onset_index(audio, TRIM_DB) :]  # and never on a sample of the creep's troughs
    peak = float(np.max(np.abs(audio)))
    if peak == 0.0:
        raise ValueError(f"{cls}: silent source")
    env = _envelope(audio)
    loud = np.flatnonzero(env > peak * undb(TAIL_DB))
    natural_end = int(loud[-1]) + 1 if loud.size else len(audio)
    cap = round(limit * SR)
    capped = natural_end > cap
    end = min(natural_end, cap, len(audio))
    audio = audio[:end].copy()
    # A tail that decayed by itself needs only a short fade to reach zero without a click; a
    # tail cut by the cap gets a long raised-cosine fade so the cut sounds like a damped decay.
    fade_n = round(0.35 * end) if capped else min(round(0.2 * end), round(0.05 * SR))
    fade_n = max(fade_n, min(end, 16))
    audio[end - fade_n :] *= 0.5 * (1.0 + np.cos(np.linspace(0.0, math.pi, fade_n)))
    return audio


def normalise_instrument(layers: list[list[np.ndarray]]) -> list[list[np.ndarray]]:
    """Scale one class's files: each round-robin take of the top layer peaks at -1 dBFS (takes
    are separate recordings whose gains mean nothing), and every softer layer gets the factor of
    the top take it stands beside, so it keeps the level its source gave it at its velocity."""
    scales = [undb(TOP_PEAK_DBFS) / float(np.max(np.abs(a))) for a in layers[-1]]
    out = [[a * scales[min(i, len(scales) - 1)] for i, a in enumerate(takes)] for takes in layers]
    # A soft layer louder than the hard one (it happens in recorded sets) must still not clip.
    loudest = max(float(np.max(np.abs(a))) for takes in out for a in takes)
    if loudest > undb(-0.3):
        out = [[a * undb(-0.3) / loudest for a in takes] for takes in out]
    return out


def centroid_hz(audio: np.ndarray, power: bool = False) -> float:
    """Spectral centroid of the first second. Magnitude-weighted by default (sensitive to
    small changes of tone); power-weighted follows where the energy is, which is what "a kick
    is low" means: a beater click and the noise of a recording pull the magnitude centroid of
    an acoustic kick above 1 kHz though 95 % of its energy lies below 200 Hz."""
    seg = audio[:SR]
    weight = np.abs(np.fft.rfft(seg)) ** (2 if power else 1)
    freqs = np.fft.rfftfreq(len(seg), 1.0 / SR)
    return float((weight * freqs).sum() / max(weight.sum(), 1e-30))


def differs_by_more_than_gain(soft: np.ndarray, hard: np.ndarray) -> bool:
    """True when two renders of one instrument differ in tone or envelope, not just level:
    only then is the softer one worth shipping as its own layer."""
    n = min(len(soft), len(hard))
    a, b = soft[:n], hard[:n]
    corr = float(np.dot(a, b) / math.sqrt(max(np.dot(a, a) * np.dot(b, b), 1e-30)))
    shift = abs(centroid_hz(soft) - centroid_hz(hard)) / centroid_hz(hard)
    return corr < 0.999 or shift > 0.02


def _k_weight(audio: np.ndarray) -> np.ndarray:
    # Roughly the ITU-R BS.1770 K-weighting: a high-pass near 40 Hz and a +4 dB shelf above
    # ~1.5 kHz, so loudness follows the ear rather than raw energy in the sub-bass.
    hp = butter(2, 40.0 / (SR / 2), btype="highpass", output="sos")
    gain = undb(4.0)
    w0 = 2 * math.pi * 1500.0 / SR
    alpha = math.sin(w0) / 2 * math.sqrt(2.0)
    a_sh = math.sqrt(gain)
    cw = math.cos(w0)
    b = [
        a_sh * ((a_sh + 1) + (a_sh - 1) * cw + 2 * math.sqrt(a_sh) * alpha),
        -2 * a_sh * ((a_sh - 1) + (a_sh + 1) * cw),
        a_sh * ((a_sh + 1) + (a_sh - 1) * cw - 2 * math.sqrt(a_sh) * alpha),
    ]
    a = [
        (a_sh + 1) - (a_sh - 1) * cw + 2 * math.sqrt(a_sh) * alpha,
        2 * ((a_sh - 1) - (a_sh + 1) * cw),
        (a_sh + 1) - (a_sh - 1) * cw - 2 * math.sqrt(a_sh) * alpha,
    ]
    return lfilter(b, a, sosfilt(hp, audio))


def loudness_db(audio: np.ndarray) -> float:
    """Short-term loudness of a hit: the loudest 100 ms of its K-weighted power."""
    weighted = _k_weight(np.concatenate([audio, np.zeros(SR // 10)]))
    n = SR // 10
    power = np.convolve(weighted * weighted, np.ones(n) / n, mode="valid")
    return 10.0 * math.log10(max(float(power.max()), 1e-20))


# ---------------------------------------------------------------------------------------------
# Kits


@dataclass
class Take:
    """One file: its audio (conditioned, 48 kHz mono), where it comes from and its licence
    (empty: the kit's)."""

    audio: np.ndarray
    source: str
    license: str = ""


@dataclass
class Layer:
    velocity: int
    takes: list[Take]


@dataclass
class Instrument:
    layers: list[Layer]  # ascending velocity
    gain_db: float = 0.0


@dataclass
class Kit:
    name: str
    title: str
    description: str
    style: str
    source: str
    license: str
    instruments: dict[str, Instrument] = field(default_factory=dict)
    notes: str = ""  # extra provenance text for LICENSES.md
    # striking class -> classes its stroke stops (kit.toml's [chokes]; the hi-hat's by default)
    chokes: dict[str, list[str]] = field(default_factory=dict)
    # file name -> (source, licence), filled in by write_kit
    files: dict[str, tuple[str, str]] = field(default_factory=dict)


def make_instrument(layers: list[tuple[int, list[Take]]]) -> Instrument:
    """Normalise one class's layers together (see `normalise_instrument`)."""
    layers = sorted(layers, key=lambda item: item[0])
    scaled = normalise_instrument([[t.audio for t in takes] for _, takes in layers])
    return Instrument(
        [
            Layer(vel, [Take(a, t.source, t.license) for a, t in zip(audio, takes, strict=True)])
            for (vel, takes), audio in zip(layers, scaled, strict=True)
        ]
    )


def balance(kit: Kit) -> None:
    """Set each class's gain_db so the kit's classes sit at `BALANCE_DB` at equal velocity.

    Anchored on the backbeat (kick, snare, clap): the one of them that needs most boost gets
    0 dB, so no gain is positive and nothing clips at full velocity.
    """
    need = {
        cls: BALANCE_DB[cls] - loudness_db(inst.layers[-1].takes[0].audio)
        for cls, inst in kit.instruments.items()
    }
    anchors = [need[c] for c in ("kick", "snare", "clap") if c in need] or [max(need.values())]
    ref = max(anchors)
    for cls, inst in kit.instruments.items():
        inst.gain_db = round(min(0.0, max(-24.0, need[cls] - ref)), 1)


def _toml_str(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def manifest(kit: Kit, names: dict[str, list[list[str]]]) -> str:
    lines = [
        f"name = {_toml_str(kit.name)}",
        f"title = {_toml_str(kit.title)}",
        f"description = {_toml_str(kit.description)}",
        f"style = {_toml_str(kit.style)}",
        f"source = {_toml_str(kit.source)}",
        f"license = {_toml_str(kit.license)}",
    ]
    for cls in INSTRUMENTS:
        if cls not in kit.instruments:
            continue
        inst = kit.instruments[cls]
        lines += ["", f"[instruments.{cls}]", f"gain_db = {inst.gain_db:.1f}", "layers = ["]
        for layer, files in zip(inst.layers, names[cls], strict=True):
            listed = ", ".join(_toml_str(f) for f in files)
            lines.append(f"  {{ velocity = {layer.velocity}, files = [{listed}] }},")
        lines.append("]")
    if kit.chokes:
        lines += ["", "[chokes]"]
        for cls, victims in kit.chokes.items():
            lines.append(f"{cls} = [{', '.join(_toml_str(v) for v in victims)}]")
    return "\n".join(lines) + "\n"


def write_kit(kit: Kit, kits_dir: Path) -> None:
    """Write a kit folder: built beside the target, checked, then swapped in."""
    if kit.style not in STYLES:
        raise ValueError(f"{kit.name}: style {kit.style!r}")
    unknown = set(kit.instruments) - set(INSTRUMENTS)
    if unknown:
        raise ValueError(f"{kit.name}: unknown classes {sorted(unknown)}")
    kits_dir.mkdir(parents=True, exist_ok=True)
    # Outside kits/ itself, so a half-built kit is never listed by the product.
    staging = Path(tempfile.mkdtemp(prefix=".build-", dir=kits_dir.parent))
    try:
        folder = staging / kit.name
        folder.mkdir()
        names: dict[str, list[list[str]]] = {}
        kit.files = {}
        for cls, inst in kit.instruments.items():
            names[cls] = []
            for layer in inst.layers:
                files = []
                for i, take in enumerate(layer.takes):
                    suffix = "" if i == 0 else "_" + "bcdefgh"[i - 1]
                    fname = f"{cls}_v{layer.velocity:03d}{suffix}.flac"
                    sf.write(folder / fname, take.audio, SR, subtype=SUBTYPE, format="FLAC")
                    files.append(fname)
                    kit.files[fname] = (take.source, take.license or kit.license)
                names[cls].append(files)
        (folder / "kit.toml").write_text(manifest(kit, names), encoding="utf-8")
        problems = check_kit(folder)
        if problems:
            raise RuntimeError(f"kit {kit.name} failed its checks:\n  " + "\n  ".join(problems))
        target = kits_dir / kit.name
        old = staging / (kit.name + ".old")
        if target.exists():
            target.rename(old)
        folder.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# Checks and the listen-by-numbers report


def check_file(path: Path, cls: str) -> list[str]:
    """What is wrong with one shipped one-shot (empty when nothing)."""
    info = sf.info(path)
    problems = []
    if info.samplerate != SR or info.channels != 1 or info.subtype not in ("PCM_16", "PCM_24"):
        problems.append(f"{path.name}: {info.samplerate} Hz, {info.channels} ch, {info.subtype}")
    audio, _ = sf.read(path, dtype="float64")
    peak = float(np.max(np.abs(audio)))
    if peak < undb(-60.0):
        return problems + [f"{path.name}: silent (peak {db(peak):.1f} dBFS)"]
    if peak > undb(-0.2):
        problems.append(f"{path.name}: peak {db(peak):.2f} dBFS, too close to clipping")
    onset = onset_index(audio)
    if onset > ONSET_TOLERANCE_S * SR:
        problems.append(f"{path.name}: onset at {onset / SR * 1000:.3f} ms, not at sample 0")
    if abs(float(audio.mean())) > 0.01 * peak and GROUP_OF[cls] != "kick":
        # A kick's single long half-wave can average off zero by nature; other classes not.
        problems.append(f"{path.name}: DC offset {audio.mean() / peak:+.3f} of peak")
    end = audio[-max(1, SR // 1000) :]
    if abs(audio[-1]) > 1e-4 or float(np.max(np.abs(end))) > peak * undb(-40.0):
        problems.append(f"{path.name}: does not end in silence (click)")
    if len(audio) / SR > max_seconds(cls) + 0.6:
        problems.append(f"{path.name}: {len(audio) / SR:.2f} s, longer than its class allows")
    return problems


def check_kit(folder: Path) -> list[str]:
    """Read a kit folder back the way the product will and check manifest and files."""
    problems = []
    data = tomllib.loads((folder / "kit.toml").read_text(encoding="utf-8"))
    if data.get("name") != folder.name:
        problems.append(f"manifest name {data.get('name')!r} is not the folder name")
    for key in ("title", "description", "style", "source", "license"):
        if not isinstance(data.get(key), str) or not data[key]:
            problems.append(f"manifest lacks {key}")
    listed = set()
    for cls, spec in data["instruments"].items():
        if cls not in GROUP_OF:
            problems.append(f"unknown class {cls}")
            continue
        velocities = [layer["velocity"] for layer in spec["layers"]]
        if velocities != sorted(set(velocities)) or not all(1 <= v <= 127 for v in velocities):
            problems.append(f"{cls}: velocities {velocities} not ascending within 1-127")
        for layer in spec["layers"]:
            for name in layer["files"]:
                listed.add(name)
                if not (folder / name).is_file():
                    problems.append(f"{cls}: missing {name}")
                else:
                    problems += check_file(folder / name, cls)
    stray = {p.name for p in folder.glob("*.flac")} - listed
    if stray:
        problems.append(f"files not in the manifest: {sorted(stray)}")
    return problems


def report(folder: Path) -> list[str]:
    """Listen by numbers: per class and layer, length, peak and (power-weighted) spectral
    centroid, plus warnings where a class does not sound like itself (a bright kick, a dull
    hat)."""
    data = tomllib.loads((folder / "kit.toml").read_text(encoding="utf-8"))
    lines = [f"== {data['name']}: {data['title']} ({data['license']})"]
    for cls, spec in data["instruments"].items():
        cells = []
        for layer in spec["layers"]:
            for name in layer["files"]:
                audio, _ = sf.read(folder / name, dtype="float64")
                peak = db(float(np.max(np.abs(audio))))
                cent = centroid_hz(audio, power=True)
                cells.append(
                    f"v{layer['velocity']} {len(audio) / SR:.2f}s {peak:5.1f}dB {cent:5.0f}Hz"
                )
                if GROUP_OF[cls] == "kick" and cent > 1000:
                    cells[-1] += " (!bright kick)"
                if GROUP_OF[cls] in ("hats", "cymbals") and cent < 3000:
                    cells[-1] += " (!dull)"
        lines.append(f"  {cls:14s} {spec.get('gain_db', 0):+5.1f}dB | " + " | ".join(cells))
    return lines
