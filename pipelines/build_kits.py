"""Build every drum kit shipped in samples/kits/, their licence files and samples/LICENSES.md.

Sources (build time only; the product never reads them):
- FluidR3_GM.sf2 (Debian fluid-soundfont-gm, MIT), rendered note by note with the fluidsynth CLI:
  kits acoustic, room, rock and jazz-brush, and the hand percussion of world;
- the CC0 one-shots in ../shared/samples/cc0-oneshots: kits lofi (processed with pedalboard) and
  the tabla of world;
- our own synthesis in synth_kits.py: kits 808 and house.

Run from the repository root: ``python pipelines/build_kits.py`` (``--only 808,lofi`` for some
kits; LICENSES.md is rewritten only by a full build). Output is deterministic.
"""

from __future__ import annotations

import argparse
import csv
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import mido
import numpy as np
import soundfile as sf
from pedalboard import (
    Bitcrush,
    Distortion,
    HighpassFilter,
    LowpassFilter,
    Pedalboard,
    Resample,
    Reverb,
)

sys.path.insert(0, str(Path(__file__).resolve().parent))  # sibling modules, from any cwd

import kitlib  # noqa: E402
import synth_kits  # noqa: E402
from kitlib import SR, Kit, Take  # noqa: E402

REPO = kitlib.REPO
DEFAULT_SF2 = Path("/usr/share/sounds/sf2/FluidR3_GM.sf2")
FLUID_PACKAGE = "fluid-soundfont-gm"
CC0_SUBDIR = Path("samples/cc0-oneshots")

# ---------------------------------------------------------------------------------------------
# Rendering a soundfont drum preset

SLOT_S = 4.0  # one hit every 4 s, silenced before the next; we keep at most 2.5 s of it
LEAD_S = 0.5
MAIN = ("kick", "snare", "rim", "clap", "hat_closed", "hat_pedal", "hat_open")
# FluidR3's drum presets split kick and snare into velocity zones 0-80, 81-88, ... 121-127 that
# differ in attack and decay; render at the top of three zones so each layer is what the
# soundfont plays for the hits that will use it. Other pieces get two candidates; layers that
# turn out to differ only in level are dropped (the renderer's velocity curve does that part).
MAIN_VELOCITIES = (80, 104, 127)
OTHER_VELOCITIES = (80, 127)

# General MIDI percussion notes for the hand-percussion classes every FluidR3 kit carries.
GM_PERCUSSION = {
    "cowbell": 56, "tambourine": 54, "shaker": 70, "clave": 75,
    "woodblock_high": 76, "woodblock_low": 77, "bongo_high": 60, "bongo_low": 61,
    "conga_high": 63, "conga_low": 64, "timbale_high": 65, "timbale_low": 66,
    "agogo_high": 67, "agogo_low": 68, "guiro": 73, "triangle": 81,
}  # fmt: skip


def package_version(package: str) -> str:
    try:
        out = subprocess.run(
            ["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True
        )
        return out.stdout.strip() or "unknown version"
    except OSError:
        return "unknown version"


def render_preset(
    sf2: Path, preset: int, hits: list[tuple[int, int]], workdir: Path
) -> dict[tuple[int, int], np.ndarray]:
    """Play each (note, velocity) once on channel 10 with ``preset`` selected, render the whole
    file in one fluidsynth run, and return each hit's slice (mono, 48 kHz, from just before it).
    """
    ticks_per_s = 960  # 480 ticks a beat at 120 bpm
    events: list[tuple[int, mido.Message]] = [
        (0, mido.Message("program_change", channel=9, program=preset))
    ]
    for i, (note, velocity) in enumerate(hits):
        start = round((LEAD_S + i * SLOT_S) * ticks_per_s)
        hold = round((SLOT_S - 0.6) * ticks_per_s)
        events.append((start, mido.Message("note_on", channel=9, note=note, velocity=velocity)))
        events.append((start + hold, mido.Message("note_off", channel=9, note=note)))
        # All Sound Off: whatever still rings (a looped cymbal) must not reach the next slot.
        events.append((start + hold + 48, mido.Message("control_change", channel=9, control=120)))
    track = mido.MidiTrack([mido.MetaMessage("set_tempo", tempo=500_000, time=0)])
    now = 0
    for tick, message in sorted(events, key=lambda e: e[0]):
        track.append(message.copy(time=tick - now))
        now = tick
    midi = mido.MidiFile(ticks_per_beat=480, tracks=[track])
    mid_path, wav_path = workdir / f"p{preset}.mid", workdir / f"p{preset}.wav"
    midi.save(mid_path)
    # Reverb and chorus off: the one-shots must be dry; float output: no clipping to care about.
    cmd = ["fluidsynth", "-ni", "-q", "-R", "0", "-C", "0", "-r", str(SR), "-g", "1.0"]
    cmd += ["-O", "float", "-T", "wav", "-F", str(wav_path), str(sf2), str(mid_path)]
    subprocess.run(cmd, check=True, capture_output=True)
    audio, rate = sf.read(wav_path, dtype="float64", always_2d=True)
    if rate != SR:
        raise RuntimeError(f"fluidsynth rendered at {rate} Hz")
    mono = audio.mean(axis=1)
    out = {}
    for i, hit in enumerate(hits):
        start = round((LEAD_S + i * SLOT_S - 0.01) * SR)
        out[hit] = mono[start : start + round((SLOT_S - 0.7) * SR)]
    return out


def keep_distinct_layers(renders: dict[int, np.ndarray]) -> list[int]:
    """Velocities worth a layer: the top one, and each softer one that sounds different from
    the layer kept above it rather than just quieter."""
    kept = [max(renders)]
    for velocity in sorted(renders, reverse=True)[1:]:
        if kitlib.differs_by_more_than_gain(renders[velocity], renders[kept[-1]]):
            kept.append(velocity)
    return sorted(kept)


def soundfont_instruments(
    sf2: Path,
    preset: int,
    notes: dict[str, int],
    describe: Callable[[int, int], str],
    workdir: Path,
    effect: Callable[[np.ndarray], np.ndarray] | None = None,
) -> dict[str, kitlib.Instrument]:
    """Render ``notes`` (class -> note) of one preset and make each class's instrument."""

    def velocities(cls: str) -> tuple[int, ...]:
        return MAIN_VELOCITIES if cls in MAIN else OTHER_VELOCITIES

    # dict.fromkeys: one render per (note, velocity) even when two classes share a note
    hits = list(dict.fromkeys((note, v) for cls, note in notes.items() for v in velocities(cls)))
    raw = render_preset(sf2, preset, hits, workdir)
    instruments = {}
    for cls, note in notes.items():
        renders = {}
        for v in velocities(cls):
            audio = raw[(note, v)]
            renders[v] = effect(audio) if effect is not None else audio
        # Compared before trimming: the renders share fluidsynth's time grid, whereas each
        # trimmed file starts where its own noise first crosses the onset level.
        layers = [
            (v, [Take(kitlib.condition(renders[v], cls), describe(note, v), "MIT")])
            for v in keep_distinct_layers(renders)
        ]
        instruments[cls] = kitlib.make_instrument(layers)
    return instruments


@dataclass(frozen=True)
class FluidKit:
    name: str
    title: str
    description: str
    style: str
    preset: int
    preset_name: str
    notes: dict[str, int]
    effect: Callable[[np.ndarray], np.ndarray] | None = None
    effect_note: str = ""


def room_ambience(audio: np.ndarray) -> np.ndarray:
    # A small, damped room (Freeverb in pedalboard): early reflections and a short bloom, the
    # sound of a kit miked at a distance. Its delay lines start silent, so nothing precedes the
    # onset; mono in, mono out.
    board = Pedalboard(
        [Reverb(room_size=0.32, damping=0.55, wet_level=0.22, dry_level=0.85, width=0.0)]
    )
    return board(audio.astype(np.float32)[None, :], SR)[0].astype(np.float64)


_CYMBALS_STD = {"crash": 49, "splash": 55, "china": 52, "ride": 51, "ride_bell": 53}
_HATS = {"hat_closed": 42, "hat_pedal": 44, "hat_open": 46}
# The GM layout: the Standard, Power and Brush presets put their own drums on these notes.
_GM_KIT = {"kick": 36, "snare": 38, "rim": 37, "clap": 39, **_HATS, **_CYMBALS_STD,
           "tom_high": 50, "tom_mid": 47, "tom_low": 43, **GM_PERCUSSION}  # fmt: skip
# The Room preset's own kick, plus its other snare (40), crash (57) and ride (59) and lower
# toms (48, 45, 41): a kit that does not just repeat `acoustic` with reverb.
_ROOM_KIT = {**_GM_KIT, "snare": 40, "crash": 57, "ride": 59,
             "tom_high": 48, "tom_mid": 45, "tom_low": 41}  # fmt: skip

FLUID_KITS = (
    FluidKit(
        name="acoustic",
        title="Acoustic — standard studio kit",
        description="A dry, balanced studio drum kit with toms, cymbals and Latin percussion: "
        "the all-rounder for pop, rock and funk.",
        style="acoustic",
        preset=0,
        preset_name="Standard",
        notes=_GM_KIT,
    ),
    FluidKit(
        name="room",
        title="Room — kit in a live room",
        description="A fuller kick, a second snare and deeper toms, heard through a small live "
        "room: for indie, soul and anything that wants air around the drums.",
        style="acoustic",
        preset=8,
        preset_name="Room",
        notes=_ROOM_KIT,
        effect=room_ambience,
        effect_note="short room ambience added (pedalboard Reverb: room 0.32, damping 0.55, "
        "wet 0.22, dry 0.85)",
    ),
    FluidKit(
        name="rock",
        title="Rock — power kit",
        description="Big, punchy kick and snare with heavy toms, in the style of 1980s power "
        "kits: for rock, metal and arena pop.",
        style="acoustic",
        preset=16,
        preset_name="Power",
        notes=_GM_KIT,
    ),
    FluidKit(
        name="jazz-brush",
        title="Jazz brushes — soft kit",
        description="A jazz kit played with brushes: soft brushed snare and slap, a round "
        "kick, rides and hats for swing, ballads and bossa.",
        style="acoustic",
        preset=40,
        preset_name="Brush",
        notes=_GM_KIT,  # its note 39 is a brush slap on the snare: the kit's clap
    ),
)


def build_fluid_kit(spec: FluidKit, sf2: Path, workdir: Path) -> Kit:
    version = package_version(FLUID_PACKAGE)

    def describe(note: int, velocity: int) -> str:
        text = (
            f"{sf2.name} ({FLUID_PACKAGE} {version}), bank 128 preset {spec.preset} "
            f'"{spec.preset_name}", note {note}, velocity {velocity}'
        )
        return text + (f"; {spec.effect_note}" if spec.effect_note else "")

    kit = Kit(
        name=spec.name,
        title=spec.title,
        description=spec.description,
        style=spec.style,
        source=f"{FLUID_PACKAGE} {version}: {sf2.name}, bank 128 preset {spec.preset} "
        f"({spec.preset_name})" + (f", {spec.effect_note}" if spec.effect_note else ""),
        license="MIT",
        instruments=soundfont_instruments(
            sf2, spec.preset, spec.notes, describe, workdir, spec.effect
        ),
        notes=f"Rendered with fluidsynth (reverb and chorus off, 48 kHz) from {sf2.name}, mixed "
        "to mono, trimmed to the onset, tails faded below -60 dB. Licence: MIT "
        "(licenses/fluid-soundfont-gm.copyright.txt).",
    )
    kitlib.balance(kit)
    return kit


# ---------------------------------------------------------------------------------------------
# CC0 one-shots


class Cc0:
    """The CC0 one-shot folder and its index (category and freesound origin of every file)."""

    def __init__(self, root: Path):
        self.root = root
        with open(root / "INDEX.csv", newline="", encoding="utf-8") as f:
            self.index = {row["file"]: row for row in csv.DictReader(f)}

    def path(self, name: str) -> Path:
        for rel in self.index:
            if Path(rel).name == name:
                return self.root / rel
        raise KeyError(f"{name} is not in {self.root / 'INDEX.csv'}")

    def describe(self, name: str, processing: str = "") -> str:
        rel = str(self.path(name).relative_to(self.root))
        row = self.index[rel]
        origin = "sonic-pi etc/samples" if row["source"] == "sonic-pi" else "cadence sounds"
        text = f"{origin}/{name} (CC0 1.0; original: {row['origin']})"
        return text + (f"; {processing}" if processing else "")

    def take(
        self,
        name: str,
        cls: str,
        effect: Callable[[np.ndarray], np.ndarray] | None = None,
        processing: str = "",
        gain: float = 1.0,
    ) -> Take:
        audio = kitlib.read_source(self.path(name)) * gain
        if effect is not None:
            audio = effect(audio)
        return Take(kitlib.condition(audio, cls), self.describe(name, processing), "CC0-1.0")


LOFI_NOTE = (
    "lo-fi chain (pedalboard): sample-and-hold resampling to {rate} Hz, {bits}-bit crush, "
    "{drive} dB drive, low-pass {cutoff} Hz, high-pass 35 Hz"
)


def lofi_chain(rate: int, bits: int, drive: float, cutoff: float) -> Pedalboard:
    # Zero-order-hold resampling keeps the aliasing of an old sampler; the drive is applied to
    # hits at their natural level, so hard hits saturate more than soft ones, like tape.
    return Pedalboard(
        [
            Resample(target_sample_rate=float(rate), quality=Resample.Quality.ZeroOrderHold),
            Bitcrush(bit_depth=float(bits)),
            Distortion(drive_db=drive),
            LowpassFilter(cutoff_frequency_hz=cutoff),
            HighpassFilter(cutoff_frequency_hz=35.0),
        ]
    )


# stem group -> chain parameters (rate, bits, drive, cutoff): drums darker and grittier, metal
# keeps some air so hats still read as hats.
_LOFI_PARAMS = {
    "kick": (22050, 10, 6.0, 3500.0),
    "snare": (22050, 10, 6.0, 6000.0),
    "hats": (26000, 11, 3.0, 9000.0),
    "cymbals": (26000, 11, 3.0, 9000.0),
    "toms": (22050, 10, 5.0, 5000.0),
    "perc": (22050, 10, 4.0, 6500.0),
}


# class -> [(velocity, [files as round-robin])]: the menegass acoustic set in sonic-pi has soft
# and hard hits of the same drums, which become real velocity layers.
LOFI_MAP: dict[str, list[tuple[int, list[str]]]] = {
    "kick": [(80, ["drum_bass_soft.flac"]), (127, ["drum_bass_hard.flac"])],
    "snare": [(80, ["drum_snare_soft.flac"]), (127, ["drum_snare_hard.flac"])],
    "rim": [(127, ["elec_tick.flac"])],
    # cadence's snare.wav was recorded as a clap (its README says so): a second clap take.
    "clap": [(127, ["clap.wav", "snare.wav"])],
    "hat_closed": [(127, ["drum_cymbal_closed.flac"])],
    "hat_pedal": [(127, ["drum_cymbal_pedal.flac"])],
    "hat_open": [(127, ["drum_cymbal_open.flac"])],
    "crash": [(80, ["drum_cymbal_soft.flac"]), (127, ["drum_cymbal_hard.flac"])],
    "splash": [(80, ["drum_splash_soft.flac"]), (127, ["drum_splash_hard.flac"])],
    "ride": [(127, ["ride_tri.flac"])],  # the brighter of the two rides survives the roll-off
    "tom_high": [(80, ["drum_tom_hi_soft.flac"]), (127, ["drum_tom_hi_hard.flac"])],
    "tom_mid": [(80, ["drum_tom_mid_soft.flac"]), (127, ["drum_tom_mid_hard.flac"])],
    "tom_low": [(80, ["drum_tom_lo_soft.flac"]), (127, ["drum_tom_lo_hard.flac"])],
    "cowbell": [(127, ["drum_cowbell.flac"])],
    "woodblock_high": [(127, ["elec_wood.flac"])],
    "triangle": [(127, ["elec_triangle.flac"])],
}


def build_lofi(cc0: Cc0) -> Kit:
    instruments = {}
    for cls, layers in LOFI_MAP.items():
        rate, bits, drive, cutoff = _LOFI_PARAMS[kitlib.GROUP_OF[cls]]
        chain = lofi_chain(rate, bits, drive, cutoff)
        note = LOFI_NOTE.format(rate=rate, bits=bits, drive=drive, cutoff=round(cutoff))
        # Into the non-linear chain at a fixed level: each top-layer take at -3 dBFS, and a soft
        # layer with its hard take's gain, so the recording's soft/hard difference survives and
        # hard hits saturate more than soft ones, as on tape.
        gains = [
            kitlib.undb(-3.0) / float(np.max(np.abs(kitlib.read_source(cc0.path(n)))))
            for n in layers[-1][1]
        ]

        def effect(audio: np.ndarray, chain: Pedalboard = chain) -> np.ndarray:
            padded = np.concatenate([np.zeros(256), audio, np.zeros(SR // 4)]).astype(np.float32)
            return chain(padded[None, :], SR)[0].astype(np.float64)

        instruments[cls] = kitlib.make_instrument(
            [
                (v, [cc0.take(n, cls, effect, note, gains[min(i, len(gains) - 1)])
                     for i, n in enumerate(names)])
                for v, names in layers
            ]
        )  # fmt: skip
    kit = Kit(
        name="lofi",
        title="Lo-fi — dusty sampled kit",
        description="A soft acoustic kit through a gritty old sampler: crushed, saturated and "
        "rolled off, for lo-fi hip-hop and chill beats.",
        style="hiphop",
        source="CC0 one-shots (sonic-pi etc/samples, menegass acoustic set and others; cadence "
        "clap), processed with pedalboard",
        license="CC0-1.0",
        instruments=instruments,
        notes="Sources are CC0 1.0 (licenses/LICENSE.sonic-pi.md, licenses/SAMPLES_README."
        "sonic-pi.md, licenses/SOUNDS_README.cadence.md); the processing is ours and adds no "
        "restriction.",
    )
    kitlib.balance(kit)
    return kit


# The tabla of world: bayan (bass drum) strokes for the kick and low tom, dayan strokes for
# snare, rim and high toms. Round robins are different recordings of one stroke.
WORLD_TABLA: dict[str, list[str]] = {
    "kick": ["tabla_ghe1.flac", "tabla_ghe4.flac", "tabla_ghe8.flac"],
    "snare": ["tabla_na.flac", "tabla_na_s.flac"],
    "rim": ["tabla_te1.flac", "tabla_te2.flac"],
    "clap": ["tabla_dhec.flac"],
    "tom_high": ["tabla_tun1.flac"],
    "tom_mid": ["tabla_tun3.flac"],
    "tom_low": ["tabla_ghe2.flac"],
}
# Hats and hand percussion of world from FluidR3's GM percussion. A percussion section keeps
# time on shakers and a bell, so shakers stand in for hats and the agogo bells for the ride
# (crashes then fall back to the ride, i.e. an accent on the bell).
WORLD_FLUID = {
    **GM_PERCUSSION,
    "hat_closed": 70,  # maracas: a crisp attack that keeps a hat pattern on the grid
    "hat_pedal": 69,  # cabasa
    "hat_open": 54,  # tambourine
    "ride": 68,  # low agogo
    "ride_bell": 67,  # high agogo
    "shaker": 82,  # the GM2 shaker, which swells in over ~15 ms like a real one
}


def build_world(cc0: Cc0, sf2: Path, workdir: Path) -> Kit:
    version = package_version(FLUID_PACKAGE)

    def describe(note: int, velocity: int) -> str:
        return (
            f'{sf2.name} ({FLUID_PACKAGE} {version}), bank 128 preset 0 "Standard", '
            f"note {note}, velocity {velocity}"
        )

    instruments = soundfont_instruments(sf2, 0, WORLD_FLUID, describe, workdir)
    for cls, names in WORLD_TABLA.items():
        instruments[cls] = kitlib.make_instrument([(127, [cc0.take(n, cls) for n in names])])
    kit = Kit(
        name="world",
        title="World — tabla and hand percussion",
        description="Tabla strokes for kick, snare and toms, shakers for hats, agogo bells for "
        "the ride, plus congas, bongos and timbales: hand percussion for any groove, no cymbals.",
        style="acoustic",
        source=f"CC0 tabla one-shots (sonic-pi etc/samples, from freesound dio_333) and "
        f"{FLUID_PACKAGE} {version}: {sf2.name}, bank 128 preset 0 (Standard) percussion",
        license="CC0-1.0 AND MIT",
        instruments=instruments,
        notes="Tabla files: CC0 1.0 (licenses/LICENSE.sonic-pi.md, licenses/SAMPLES_README."
        "sonic-pi.md). Percussion files: MIT (licenses/fluid-soundfont-gm.copyright.txt).",
    )
    kitlib.balance(kit)
    return kit


# ---------------------------------------------------------------------------------------------
# Licences


LICENSE_FILES = {
    # shipped name -> where it comes from (relative to the CC0 folder, or absolute)
    "LICENSE.sonic-pi.md": "sonic-pi/LICENSE.sonic-pi.md",
    "SAMPLES_README.sonic-pi.md": "sonic-pi/SAMPLES_README.sonic-pi.md",
    "SOUNDS_README.cadence.md": "cadence/SOUNDS_README.cadence.md",
    "fluid-soundfont-gm.copyright.txt": f"/usr/share/doc/{FLUID_PACKAGE}/copyright",
}


def copy_licenses(cc0_root: Path, samples: Path) -> None:
    target = samples / "licenses"
    target.mkdir(parents=True, exist_ok=True)
    for name, source in LICENSE_FILES.items():
        shutil.copyfile(cc0_root / source, target / name)  # an absolute source wins the join


def licenses_md(kits: list[Kit]) -> str:
    out = [
        "# Sample sources and licences",
        "",
        "Every audio file shipped in `samples/kits/` is listed below with its source and licence.",
        "All of them are royalty-free: beats rendered with these kits can be used and sold without",
        "attribution or fees. Licence texts are in `samples/licenses/`:",
        "",
        "- `fluid-soundfont-gm.copyright.txt`: Debian copyright file of fluid-soundfont-gm",
        "  (FluidR3_GM.sf2 by Frank Wen and contributors, MIT licence, full text inside).",
        '- `LICENSE.sonic-pi.md`: Sonic Pi licence; section "Samples": the bundled samples are',
        "  CC0 1.0 Universal.",
        "- `SAMPLES_README.sonic-pi.md`: the freesound.org origin of each Sonic Pi sample (CC0).",
        "- `SOUNDS_README.cadence.md`: author and freesound.org origin of each cadence sound",
        "  (CC0).",
        "",
        "The kits are rebuilt with `python pipelines/build_kits.py` (see its docstring).",
        "",
        "## Synthesised sounds",
        "",
        "Kits `808` and `house` are synthesised by audiogen's own code, `pipelines/synth_kits.py`,",
        "from oscillators, filters and seeded noise; no recording is involved. The sounds are",
        "dedicated to the public domain under CC0 1.0 (the code that makes them is under the",
        "project's licence, GPL-3.0-or-later).",
        "",
        "## Example beats",
        "",
        "`samples/beats/*.mid` are patterns composed by the project in",
        "`pipelines/make_example_beats.py` (no dataset involved), dedicated to the public domain",
        "under CC0 1.0.",
    ]
    for kit in kits:
        out += ["", f"## Kit `{kit.name}` — {kit.title}", "", f"Licence: {kit.license}. "
                f"Source: {kit.source}."]  # fmt: skip
        if kit.notes:
            out += ["", kit.notes]
        out += ["", "| file | source | licence |", "|---|---|---|"]
        for fname, (source, license_) in sorted(kit.files.items()):
            out.append(f"| `{fname}` | {source.replace('|', '/')} | {license_} |")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------------------------------------


ALL_KITS = ("acoustic", "room", "rock", "jazz-brush", "808", "house", "lofi", "world")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--shared", type=Path, default=REPO.parent / "shared", help="shared data folder"
    )
    parser.add_argument("--sf2", type=Path, default=DEFAULT_SF2, help="FluidR3_GM.sf2")
    parser.add_argument("--samples", type=Path, default=REPO / "samples", help="output folder")
    parser.add_argument("--only", default="", help="comma-separated kit names (default: all)")
    args = parser.parse_args(argv)
    wanted = [k for k in args.only.split(",") if k] or list(ALL_KITS)
    unknown = set(wanted) - set(ALL_KITS)
    if unknown:
        parser.error(f"unknown kits {sorted(unknown)}; known: {', '.join(ALL_KITS)}")
    cc0 = Cc0(args.shared / CC0_SUBDIR)
    kits_dir = args.samples / "kits"
    built: list[Kit] = []
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        for name in wanted:
            fluid = next((k for k in FLUID_KITS if k.name == name), None)
            if fluid is not None:
                kit = build_fluid_kit(fluid, args.sf2, workdir)
            elif name in synth_kits.KITS:
                kit = synth_kits.KITS[name]()
            elif name == "lofi":
                kit = build_lofi(cc0)
            else:
                kit = build_world(cc0, args.sf2, workdir)
            kitlib.write_kit(kit, kits_dir)
            built.append(kit)
            print("\n".join(kitlib.report(kits_dir / name)), flush=True)
    if len(wanted) == len(ALL_KITS):
        copy_licenses(cc0.root, args.samples)
        order = {name: i for i, name in enumerate(ALL_KITS)}
        text = licenses_md(sorted(built, key=lambda k: order[k.name]))
        (args.samples / "LICENSES.md").write_text(text, encoding="utf-8")
        print(f"wrote {args.samples / 'LICENSES.md'}")
    else:
        print("partial build: samples/LICENSES.md left as it was (a full build rewrites it)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
