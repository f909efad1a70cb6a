"""Reference outputs: 30 requests through every front door, each written file's checksum.

    python benchmarks/reference_outputs.py          # writes results/reference-outputs.json
    python benchmarks/reference_outputs.py --check  # compares this tree with that file

A refactoring that changes no behaviour leaves every checksum as it was: generate (genres,
sentences, controls), songs, vary, loops, render (kits, loudness, formats, rates) and a batch
recipe; MIDI bytes, every audio file and the manifest (its software versions left out).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RESULT = ROOT / "benchmarks" / "results" / "reference-outputs.json"
BEATS = ROOT / "samples" / "beats"

GENERATE = [
    {"genre": "hip-hop", "bars": 4},
    {"genre": "house", "bars": 4, "seed": 3},
    {"genre": "rock", "bars": 4, "kit": "rock"},
    {"genre": "jazz", "bars": 4, "feel": "swing8", "swing": 0.66},
    {"genre": "funk", "bars": 4, "syncopation": 0.8, "humanize": 0.5},
    {"genre": "trap", "bars": 4, "bpm": 140, "energy": 0.9},
    {"genre": "afro-cuban", "bars": 2, "meter": "12/8"},
    {"genre": "house", "bars": 4, "polyrhythm": "3:4", "on": "perc"},
    {"prompt": "dark, bouncy trap beat around 140 bpm", "bars": 4},
    {"prompt": "chill lofi for a podcast background", "bars": 4, "kit": "room"},
    {"genre": "dnb", "bars": 4, "humanize": 0},
    {"genre": "reggae", "bars": 4, "loudness": "podcast", "formats": ("wav", "flac")},
]
SONGS = [
    {"genre": "pop", "duration": 40},
    {"genre": "rock", "form": "intro:2,verse:4,chorus:4:0.9,outro:2"},
    {"genre": "hip-hop", "form": "auto", "bars": 16},
]
LOOPS = [
    {"genre": "house", "bars": 4, "preset": "video"},
    {"genre": "lofi", "bars": 2, "loop": True, "sample_rate": 44100},
]
VARY = [
    ("boom-bap.mid", {"sections": "verse,chorus", "amount": 0.4}),
    ("rock-groove.mid", {"sections": "verse,chorus,bridge", "amount": 0.7, "seed": 2}),
    ("boom-bap.mid", {"amount": 0.3, "loop": True}),
]
RENDER = [
    ("boom-bap.mid", {}),
    ("rock-groove.mid", {"kit": "808", "mix": "hiphop"}),
    ("boom-bap.mid", {"kit": "jazz-brush", "loudness": "broadcast", "seed": 3}),
    ("rock-groove.mid", {"loop": True, "sample_rate": 44100}),
    ("boom-bap.mid", {"preset": "podcast", "fade_in_s": 1.0, "fade_out_s": 2.0,
                      "formats": ("wav", "flac")}),
]
BATCH = """name: reference
defaults: {formats: [wav]}
items:
  - {genre: house, seed: 1, bars: 2}
  - {genre: trap, seed: 2, bars: 2, preset: video}
  - {prompt: "uplifting pop", seed: 0, bars: 2}
  - {genre: jazz, seed: 4, bars: 2, kit: jazz-brush}
  - {midi: MIDI, kit: world}
"""


def digest(path: Path) -> str:
    if path.name == "manifest.json":
        manifest = json.loads(path.read_text())
        manifest.pop("versions", None)
        manifest.pop("audiogen", None)
        data = json.dumps(manifest, sort_keys=True).encode()
    else:
        data = path.read_bytes()
    return hashlib.sha256(data).hexdigest()[:16]


def folder_digests(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): digest(p) for p in sorted(folder.rglob("*"))
            if p.is_file() and not p.name.startswith(".")}  # fmt: skip


def run_all(work: Path) -> dict[str, dict[str, str]]:
    import audiogen
    from audiogen.batch import load_recipe, run_batch

    out: dict[str, dict[str, str]] = {}

    def save(name: str, beat) -> None:
        folder = work / name
        beat.save(folder)
        out[name] = folder_digests(folder)
        print(f"{name}: {len(out[name])} files", flush=True)

    for i, options in enumerate(GENERATE + SONGS + LOOPS):
        save(f"generate-{i:02d}", audiogen.generate(**options))
    for i, (midi, options) in enumerate(VARY):
        save(f"vary-{i}", audiogen.vary(BEATS / midi, **options))
    for i, (midi, options) in enumerate(RENDER):
        save(f"render-{i}", audiogen.render(BEATS / midi, **options))
    recipe = work / "recipe.yaml"
    recipe.write_text(BATCH.replace("MIDI", str(BEATS / "rock-groove.mid")))
    run_batch(load_recipe(recipe, out=work / "batch"))
    for item in sorted((work / "batch").iterdir()):
        if item.is_dir() and not item.name.startswith("."):
            out[f"batch/{item.name}"] = folder_digests(item)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the stored outputs")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        outputs = run_all(Path(tmp))
    print(f"{len(outputs)} requests, {sum(len(v) for v in outputs.values())} files")
    if not args.check:
        RESULT.write_text(json.dumps(outputs, indent=1, sort_keys=True) + "\n")
        return
    stored = json.loads(RESULT.read_text())
    changed = [f"{req}/{name}" for req in sorted(set(stored) | set(outputs))
               for name in sorted(set(stored.get(req, {})) | set(outputs.get(req, {})))
               if stored.get(req, {}).get(name) != outputs.get(req, {}).get(name)]  # fmt: skip
    for name in changed:
        print(f"changed: {name}")
    print(f"{len(changed)} of {sum(len(v) for v in stored.values())} files differ")
    sys.exit(1 if changed else 0)


if __name__ == "__main__":
    main()
