"""Stems against the master before its limiter: every kit × loudness preset on the example beats.

    python benchmarks/bench_stems.py

For each render, the master is captured where the mixer hands it to loudness normalisation (and
scaled by the gain normalisation applied), then compared with the sum of the stems: in memory
(float32) and as written (WAV stems, 24-bit or 32-bit float when over full scale). Errors are
given as a share of the pre-limiter master's peak. Prints Markdown; writes
benchmarks/results/stems.json.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

import numpy as np
import soundfile as sf
from machine import describe_machine

import audiogen.mix.mixer as mixer
from audiogen.api import render
from audiogen.kits import kit_names

REPO = Path(__file__).resolve().parents[1]
BEATS = sorted((REPO / "samples" / "beats").glob("*.mid"))
LOUDNESS = ("streaming", "podcast", "bed", "broadcast")


def main() -> None:
    captured: dict[str, np.ndarray] = {}
    normalize = mixer.normalize

    def recording(audio, sample_rate, target_lufs, ceiling_dbtp):
        out, report = normalize(audio, sample_rate, target_lufs, ceiling_dbtp)
        captured["master"] = np.asarray(audio, np.float64) * 10.0 ** (report.gain_db / 20.0)
        return out, report

    mixer.normalize = recording
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for beat_path in BEATS:
            for kit in kit_names():
                for loudness in LOUDNESS:
                    mix = "bed" if loudness == "bed" else None
                    beat = render(beat_path, kit=kit, loudness=loudness, mix=mix)
                    master = captured["master"]
                    peak = float(np.max(np.abs(master)))
                    total = sum(s.astype(np.float64) for s in beat.stems.values())
                    folder = beat.save(Path(tmp) / f"{beat_path.stem}-{kit}-{loudness}")
                    stems = list((folder / "stems").glob("*.wav"))
                    written = sum(sf.read(p, always_2d=True)[0] for p in stems).T
                    rows.append(
                        {
                            "beat": beat_path.stem, "kit": kit, "loudness": loudness,
                            "stems": len(stems),
                            "memory_error": float(np.max(np.abs(total - master))) / peak,
                            "file_error": float(np.max(np.abs(written - master))) / peak,
                            "stems_float": sf.info(stems[0]).subtype == "FLOAT",
                            "limiter_db": beat.loudness.limiting_db,
                        }
                    )  # fmt: skip
                    print(json.dumps(rows[-1]), flush=True)
    summary = {
        "renders": len(rows),
        "worst_memory_error": max(r["memory_error"] for r in rows),
        "worst_file_error_pcm24": max(
            (r["file_error"] for r in rows if not r["stems_float"]), default=None
        ),
        "worst_file_error_float": max(
            (r["file_error"] for r in rows if r["stems_float"]), default=None
        ),
        "float_stem_renders": sum(r["stems_float"] for r in rows),
        "machine": describe_machine(),
    }
    out = REPO / "benchmarks" / "results" / "stems.json"
    out.write_text(json.dumps({"summary": summary, "rows": rows}, indent=1) + "\n")
    print(json.dumps(summary, indent=1))


if __name__ == "__main__":
    main()
