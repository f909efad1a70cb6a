"""Synthesised drum kits, made from oscillators and seeded noise by our own DSP code: ``808``
(after the Roland TR-808's analogue circuits) and ``house`` (after the TR-909).

No recording goes in, so the sounds are ours to give away: CC0. Each voice is a function of
(accented, rng); velocity layers are the machines' normal and accented hits, round robins are
new noise and oscillator phases. Run alone (``python pipelines/synth_kits.py``) to rebuild just
these two kits; ``pipelines/build_kits.py`` builds them with the others and writes LICENSES.md.
"""

from __future__ import annotations

import math
import sys
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.signal import butter, sosfilt

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, from any cwd

import kitlib  # noqa: E402
from kitlib import SR, Kit, Take  # noqa: E402

Voice = Callable[[bool, np.random.Generator], np.ndarray]

# ---------------------------------------------------------------------------------------------
# Building blocks


def time_axis(seconds: float) -> np.ndarray:
    return np.arange(round(seconds * SR)) / SR


def decay(t: np.ndarray, tau: float) -> np.ndarray:
    return np.exp(-t / tau)


def sweep(t: np.ndarray, f_end: float, f_start: float, tau: float) -> np.ndarray:
    """Phase of an oscillator whose pitch falls exponentially from f_start to f_end, as a
    drum's head does after the strike (integral of the frequency, so no phase jumps)."""
    return 2 * math.pi * (f_end * t + (f_start - f_end) * tau * (1.0 - np.exp(-t / tau)))


def square(freq: float, t: np.ndarray, phase: float = 0.0) -> np.ndarray:
    """Band-limited square wave (odd harmonics up to 20 kHz): without aliasing, so the metal of
    hats and cymbals stays the partials we chose."""
    out = np.zeros_like(t)
    k = 1
    while k * freq < 20_000.0:
        out += np.sin(k * (2 * math.pi * freq * t + phase)) / k
        k += 2
    return out * (4 / math.pi)


def metal(t: np.ndarray, freqs: tuple[float, ...], rng: np.random.Generator) -> np.ndarray:
    """A cluster of square oscillators at inharmonic pitches: the 808's cymbal and hat source.
    Free-running oscillators meet at random phases, hence the rng."""
    return sum(square(f, t, float(rng.uniform(0, 2 * math.pi))) for f in freqs) / len(freqs)


def noise(t: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return rng.standard_normal(len(t))


def band(x: np.ndarray, lo: float | None, hi: float | None, order: int = 2) -> np.ndarray:
    """Butterworth high-, low- or band-pass (causal: nothing rings ahead of the attack)."""
    if lo and hi:
        sos = butter(order, [lo / (SR / 2), hi / (SR / 2)], btype="bandpass", output="sos")
    elif lo:
        sos = butter(order, lo / (SR / 2), btype="highpass", output="sos")
    else:
        sos = butter(order, hi / (SR / 2), btype="lowpass", output="sos")
    return sosfilt(sos, x)


def drive(x: np.ndarray, amount: float) -> np.ndarray:
    """Soft clipping, normalised so the peak stays put: harmonics, not level."""
    peak = float(np.max(np.abs(x))) or 1.0
    return np.tanh(amount * x / peak) / math.tanh(amount) * peak


def ramp(t: np.ndarray, seconds: float) -> np.ndarray:
    """A short linear attack, for sounds that swell (a shaker) rather than snap."""
    return np.minimum(1.0, (t + 1.0 / SR) / seconds)


def velocity_level(velocity: int) -> float:
    # The same curve the renderer applies between layers (36 dB over the velocity range), so a
    # normal hit sits where the renderer would put a scaled accent and layers join smoothly.
    return 10.0 ** (36.0 * math.log10(velocity / 127) / 20.0)


# ---------------------------------------------------------------------------------------------
# Voices shared by both machines


def bell(t: np.ndarray, f0: float, tau: float) -> np.ndarray:
    # Partial ratios of a struck bell-like plate, the upper ones nearly as strong (a cymbal
    # bell is bright) but dying faster.
    ratios = (1.0, 2.32, 4.25, 6.63, 9.38)
    return sum(
        np.sin(2 * math.pi * f0 * r * t) * decay(t, tau / (1 + 0.5 * i)) / math.sqrt(1 + i)
        for i, r in enumerate(ratios)
    )


def cowbell(f1: float, f2: float) -> Voice:
    def voice(accent: bool, rng: np.random.Generator) -> np.ndarray:
        # Two square waves a sixth apart through a band-pass, a fast strike and a ringing tail.
        t = time_axis(0.6)
        phases = rng.uniform(0, 2 * math.pi, 2)
        tone = square(f1, t, float(phases[0])) + square(f2, t, float(phases[1]))
        env = 0.65 * decay(t, 0.012) + 0.35 * decay(t, 0.14)
        return band(tone, 450.0, 4000.0) * env

    return voice


def clave(freq: float) -> Voice:
    def voice(accent: bool, rng: np.random.Generator) -> np.ndarray:
        t = time_axis(0.25)
        return np.sin(2 * math.pi * freq * t) * decay(t, 0.022)

    return voice


def shaker(tau: float, lo: float) -> Voice:
    def voice(accent: bool, rng: np.random.Generator) -> np.ndarray:
        t = time_axis(0.35)
        return band(noise(t, rng), lo, 15000.0) * ramp(t, 0.004) * decay(t, tau)

    return voice


def tom(freq: float, tau: float, bend: float, noise_mix: float) -> Voice:
    def voice(accent: bool, rng: np.random.Generator) -> np.ndarray:
        t = time_axis(1.0)
        body = np.sin(sweep(t, freq, freq * bend, 0.035)) * decay(t, tau)
        hit = band(noise(t, rng), 200.0, 4000.0) * decay(t, 0.012)
        return body + noise_mix * hit

    return voice


def clap(lo: float, hi: float, gaps: tuple[float, ...], tail: float) -> Voice:
    def voice(accent: bool, rng: np.random.Generator) -> np.ndarray:
        # A few hands a hair apart (each a re-triggered noise burst), then the room's tail.
        t = time_axis(0.7)
        env = np.zeros_like(t)
        start = 0.0
        for gap in (0.0, *gaps):
            start += gap
            env = np.maximum(env, np.where(t >= start, decay(np.maximum(t - start, 0), 0.0045), 0))
        env = np.maximum(env, 0.45 * np.where(t >= start, decay(np.maximum(t - start, 0), tail), 0))
        out = band(noise(t, rng), lo, hi) * env
        return drive(out, 2.0 if accent else 1.4)

    return voice


# ---------------------------------------------------------------------------------------------
# TR-808 style

# The six square oscillators of the 808's cymbal and hats (Hz), as documented for the machine.
METAL_808 = (205.3, 304.4, 369.6, 522.7, 540.0, 800.0)


def kick_808(accent: bool, rng: np.random.Generator) -> np.ndarray:
    # A resonant filter rung by a pulse: a sine that starts a little sharp and settles at 49 Hz,
    # with a long decay (the boom hip-hop tunes to the bass line).
    t = time_axis(1.6)
    body = np.sin(sweep(t, 49.0, 49.0 * (1.55 if accent else 1.4), 0.04)) * decay(t, 0.34)
    knock = np.sin(sweep(t, 98.0, 180.0, 0.01)) * decay(t, 0.009)
    return drive(body + (0.3 if accent else 0.2) * knock, 1.8 if accent else 1.2)


def snare_808(accent: bool, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(0.6)
    tone = 0.8 * np.sin(sweep(t, 185.0, 205.0, 0.01)) * decay(t, 0.06)
    tone += 0.5 * np.sin(sweep(t, 330.0, 360.0, 0.01)) * decay(t, 0.04)
    snappy = band(noise(t, rng), 1500.0, 8000.0) * decay(t, 0.075)
    return drive(tone + (0.6 if accent else 0.45) * snappy, 1.5)


def rim_808(accent: bool, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(0.12)
    ping = 0.6 * np.sin(2 * math.pi * 455.0 * t) + 0.8 * np.sin(2 * math.pi * 1667.0 * t)
    return band(drive(ping * decay(t, 0.0075), 3.0), 300.0, None)


def hat_808(tau: float, lo: float, hi: float, attack: float = 0.0) -> Voice:
    def voice(accent: bool, rng: np.random.Generator) -> np.ndarray:
        t = time_axis(min(1.4, tau * 8))
        src = metal(t, METAL_808, rng) + 0.15 * noise(t, rng)
        tone = 1.0 if accent else 0.8  # a harder stick brings out the top of the metal
        out = band(band(src, lo * tone, hi), lo * tone, None) * decay(t, tau)
        return out * ramp(t, attack) if attack else out

    return voice


def cymbal_808(accent: bool, rng: np.random.Generator) -> np.ndarray:
    # Three bands of the same metal, each with its own decay: the low clang dies first, the
    # sizzle lasts.
    t = time_axis(3.0)
    src = metal(t, METAL_808, rng) + 0.1 * noise(t, rng)
    low = band(src, 2800.0, 4200.0) * decay(t, 0.2)
    mid = band(src, 5000.0, 8000.0) * decay(t, 0.6)
    high = band(src, 9000.0, 14000.0) * decay(t, 0.8)
    return 0.8 * low + 1.0 * mid + 0.35 * high


def ride_808(accent: bool, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(3.0)
    src = metal(t, METAL_808, rng)
    ping = band(src, 5000.0, None) * decay(t, 0.02)
    body = band(src, 3500.0, 7500.0) * decay(t, 0.5)
    return 0.6 * ping + body


def bell_808(accent: bool, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(2.4)
    src = metal(t, METAL_808, rng)
    stick = band(src, 6000.0, None) * decay(t, 0.015)
    shimmer = band(src, 4000.0, 9000.0) * decay(t, 0.35)
    return 0.4 * bell(t, 1080.0, 0.6) + 0.7 * stick + 3.5 * shimmer


# ---------------------------------------------------------------------------------------------
# TR-909 style

# Six inharmonic oscillators, higher and denser than the 808's: a stand-in for the 909's
# sampled cymbals, mixed with noise below.
METAL_909 = (313.0, 427.0, 585.0, 722.0, 807.0, 1017.0)


def kick_909(accent: bool, rng: np.random.Generator) -> np.ndarray:
    # A fast pitch dive (the punch) into a short 52 Hz body, a noise click on top, driven.
    t = time_axis(0.9)
    f_top = 270.0 if accent else 230.0
    phase = sweep(t, 52.0, 80.0, 0.12) + sweep(t, 0.0, f_top - 80.0, 0.014)
    hold = np.where(t < 0.02, 1.0, decay(np.maximum(t - 0.02, 0), 0.14))
    body = np.sin(phase) * hold
    click = band(noise(t, rng), 1000.0, 5000.0) * decay(t, 0.0012)
    return drive(body + (0.25 if accent else 0.16) * click, 2.0 if accent else 1.5)


def snare_909(accent: bool, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(0.6)
    tone = 0.8 * np.sin(sweep(t, 190.0, 250.0, 0.008)) * decay(t, 0.05)
    tone += 0.45 * np.sin(sweep(t, 345.0, 420.0, 0.008)) * decay(t, 0.035)
    snappy = band(noise(t, rng), 500.0, 9000.0) * decay(t, 0.11)
    return drive(tone + (0.8 if accent else 0.6) * snappy, 1.6)


def rim_909(accent: bool, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(0.1)
    ping = sum(
        a * np.sin(2 * math.pi * f * t) for a, f in ((0.6, 520.0), (0.9, 1850.0), (0.5, 3100.0))
    )
    return band(drive(ping * decay(t, 0.006), 2.5), 400.0, None)


def hat_909(tau: float, lo: float, hi: float, attack: float = 0.0) -> Voice:
    def voice(accent: bool, rng: np.random.Generator) -> np.ndarray:
        t = time_axis(min(1.4, tau * 8))
        src = 0.7 * metal(t, METAL_909, rng) + 0.5 * noise(t, rng)
        tone = 1.0 if accent else 0.8
        out = band(band(src, lo * tone, hi), lo * tone, None) * decay(t, tau)
        return out * ramp(t, attack) if attack else out

    return voice


def crash_909(accent: bool, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(3.0)
    freqs = tuple(float(f) for f in rng.uniform(300.0, 1300.0, 12))
    src = metal(t, freqs, rng) + 0.6 * noise(t, rng)
    wash = band(src, 3500.0, 11000.0) * (0.5 * decay(t, 0.05) + 0.5 * decay(t, 0.9))
    return wash + 0.5 * band(src, 1500.0, 3500.0) * decay(t, 0.3)


def ride_909(accent: bool, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(3.0)
    src = metal(t, METAL_909, rng) + 0.25 * noise(t, rng)
    ping = band(src, 6000.0, None) * decay(t, 0.015)
    body = band(src, 4500.0, 11000.0) * decay(t, 0.75)
    return 0.7 * ping + body + 0.15 * bell(t, 2600.0, 0.5)


def bell_909(accent: bool, rng: np.random.Generator) -> np.ndarray:
    t = time_axis(2.4)
    src = metal(t, METAL_909, rng)
    stick = band(src, 6000.0, None) * decay(t, 0.02)
    shimmer = band(src, 4500.0, 10000.0) * decay(t, 0.4)
    return 0.4 * bell(t, 1240.0, 0.7) + 0.7 * stick + 3.5 * shimmer


def tambourine(accent: bool, rng: np.random.Generator) -> np.ndarray:
    # Jingles: a rattle of short bright bursts on a shaken tail.
    t = time_axis(0.6)
    env = 0.4 * decay(t, 0.13)
    for start in (0.0, 0.007, 0.016, 0.027):
        env = env + np.where(t >= start, decay(np.maximum(t - start, 0), 0.006), 0)
    return band(noise(t, rng), 5500.0, 16000.0) * env


# ---------------------------------------------------------------------------------------------
# Kits


@dataclass(frozen=True)
class Part:
    """One class of a synthesised kit."""

    voice: Voice
    about: str  # what the voice is, for LICENSES.md
    velocities: tuple[int, ...] = (127,)  # 127 is the accented hit
    takes: int = 1  # round robins: fresh noise and oscillator phases
    max_s: float | None = None


# One circuit per drum: a new kick or tom restarts its voice and cuts the one still ringing, as
# on the machines (and as producers keep an 808 kick, mono), instead of stacking tails.
ONE_VOICE = {cls: [cls] for cls in ("kick", "tom_high", "tom_mid", "tom_low")}


@dataclass(frozen=True)
class SynthKit:
    name: str
    title: str
    description: str
    style: str
    parts: dict[str, Part]
    chokes: dict[str, list[str]] = field(default_factory=lambda: ONE_VOICE)


# Normal and accented hits: the machines' two dynamics, as two velocity layers.
LAYERS_808 = (96, 127)
LAYERS_909 = (100, 127)
CLAP_808 = clap(800.0, 1800.0, (0.011, 0.011, 0.012), 0.13)
CLAP_909 = clap(1000.0, 2600.0, (0.009, 0.01, 0.011), 0.18)

KIT_808 = SynthKit(
    name="808",
    title="808 — analogue drum machine",
    description="Booming long kick, snappy snare, clap and ticking metallic hats in the manner "
    "of the TR-808, synthesised from scratch: for hip-hop, trap and electro.",
    style="hiphop",
    parts={
        "kick": Part(kick_808, "808-style kick: falling sine, long decay", LAYERS_808, max_s=1.4),
        "snare": Part(snare_808, "808-style snare: two tones and snappy noise", LAYERS_808, 2),
        "rim": Part(rim_808, "808-style rimshot: two driven pings"),
        "clap": Part(CLAP_808, "808-style clap: four bursts of band-passed noise", LAYERS_808, 2),
        "hat_closed": Part(hat_808(0.018, 7000.0, 12000.0), "808-style closed hat", LAYERS_808, 2),
        "hat_pedal": Part(hat_808(0.011, 5500.0, 10000.0, 0.0015), "808-style pedal hat"),
        "hat_open": Part(hat_808(0.2, 7000.0, 12000.0), "808-style open hat"),
        "crash": Part(cymbal_808, "808-style cymbal: three decaying bands of metal"),
        "ride": Part(ride_808, "808-style ride: metal with a stick ping"),
        "ride_bell": Part(bell_808, "808-style bell: struck partials and metal"),
        "tom_high": Part(tom(172.0, 0.16, 1.3, 0.08), "808-style high tom"),
        "tom_mid": Part(tom(128.0, 0.2, 1.3, 0.08), "808-style mid tom"),
        "tom_low": Part(tom(95.0, 0.25, 1.3, 0.08), "808-style low tom"),
        "conga_high": Part(tom(370.0, 0.07, 1.08, 0.0), "808-style high conga"),
        "conga_low": Part(tom(250.0, 0.09, 1.08, 0.0), "808-style low conga"),
        "cowbell": Part(cowbell(540.0, 800.0), "808-style cowbell: two squares"),
        "clave": Part(clave(2500.0), "808-style claves: decaying sine"),
        "shaker": Part(shaker(0.028, 6000.0), "808-style maracas: high-passed noise", takes=2),
    },
)

KIT_HOUSE = SynthKit(
    name="house",
    title="House — 909-style drum machine",
    description="Punchy kick, bright noisy snare, layered clap, crisp hats and washy cymbals in "
    "the manner of the TR-909, synthesised from scratch: for house, techno and disco.",
    style="electronic",
    parts={
        "kick": Part(kick_909, "909-style kick: pitch dive, click, drive", LAYERS_909),
        "snare": Part(snare_909, "909-style snare: tones and bright noise", LAYERS_909, 2),
        "rim": Part(rim_909, "909-style rimshot: three driven pings"),
        "clap": Part(CLAP_909, "909-style clap: bursts and a longer tail", LAYERS_909, 2),
        "hat_closed": Part(hat_909(0.028, 7000.0, 14000.0), "909-style closed hat", LAYERS_909, 2),
        "hat_pedal": Part(hat_909(0.016, 5000.0, 11000.0, 0.002), "909-style pedal hat"),
        "hat_open": Part(hat_909(0.28, 7000.0, 14000.0), "909-style open hat"),
        "crash": Part(crash_909, "909-style crash: dense metal and noise"),
        "ride": Part(ride_909, "909-style ride: metal, ping and bell"),
        "ride_bell": Part(bell_909, "909-style ride bell"),
        "tom_high": Part(tom(170.0, 0.22, 1.6, 0.25), "909-style high tom"),
        "tom_mid": Part(tom(125.0, 0.26, 1.6, 0.25), "909-style mid tom"),
        "tom_low": Part(tom(90.0, 0.3, 1.6, 0.25), "909-style low tom"),
        "shaker": Part(shaker(0.045, 5000.0), "shaker: swelling high-passed noise", takes=2),
        "tambourine": Part(tambourine, "tambourine: rattling noise bursts", takes=2),
        "cowbell": Part(cowbell(587.0, 845.0), "cowbell: two squares"),
        "clave": Part(clave(2600.0), "claves: decaying sine"),
    },
)


def build(spec: SynthKit) -> Kit:
    instruments = {}
    for cls, part in spec.parts.items():
        layers = []
        for velocity in part.velocities:
            takes = []
            for k in range(part.takes):
                # A seed from the names, not from Python's salted hash(): same files every run.
                # The same for every layer of a take, so layers differ by the accent, not by luck.
                seed = zlib.crc32(f"{spec.name}/{cls}/{k}".encode())
                raw = part.voice(velocity == 127, np.random.default_rng(seed))
                audio = kitlib.condition(raw * velocity_level(velocity), cls, part.max_s)
                about = f"synthesised by pipelines/synth_kits.py: {part.about}"
                accent = "accented" if velocity == 127 else "normal"
                takes.append(Take(audio, f"{about} ({accent} hit, take {k + 1}, seed {seed})"))
            layers.append((velocity, takes))
        instruments[cls] = kitlib.make_instrument(layers)
    kit = Kit(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        style=spec.style,
        source="synthesised by audiogen's own code (pipelines/synth_kits.py)",
        license="CC0-1.0",
        instruments=instruments,
        chokes=spec.chokes,
        notes="Every file is synthesised by pipelines/synth_kits.py (oscillators, filters and "
        "seeded noise; no samples). Dedicated to the public domain: CC0 1.0.",
    )
    kitlib.balance(kit)
    return kit


KITS: dict[str, Callable[[], Kit]] = {
    "808": lambda: build(KIT_808),
    "house": lambda: build(KIT_HOUSE),
}


def main() -> int:
    kits_dir = kitlib.REPO / "samples" / "kits"
    for name, make in KITS.items():
        kitlib.write_kit(make(), kits_dir)
        print("\n".join(kitlib.report(kits_dir / name)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
