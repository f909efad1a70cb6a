"""Speed of the neural stack's shapes on this machine, before any training (weights do not change
the arithmetic): codec encode/decode (torch, and the decoder under onnxruntime) and the token
model writing a 30-second six-stem beat.

    python benchmarks/bench_neural_speed.py [--seconds 30] [--stems 6]

Writes benchmarks/results/neural-speed.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from measures import best_time_s  # noqa: E402

from audiogen.codec.config import CodecConfig  # noqa: E402
from audiogen.codec.model import Codec, build_model, export_decoder, save_checkpoint  # noqa: E402
from audiogen.render.features import FEATURES  # noqa: E402
from audiogen.render.neural import NeuralRenderer, RendererConfig, build  # noqa: E402


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--stems", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)

    config = CodecConfig()
    with tempfile.TemporaryDirectory() as tmp:
        model = build_model(config)
        model.train()
        model(torch.randn(4, 1, config.sample_rate) * 0.1)  # initialise the codebooks
        save_checkpoint(model.eval(), config, Path(tmp), {"version": "codec@untrained"})
        plain = Codec.load(tmp)
        export_decoder(plain.model, config, Path(tmp))
        fast = Codec.load(tmp)
        samples = round(args.seconds * config.sample_rate)
        audio = np.random.default_rng(0).normal(0, 0.1, (args.stems, samples)).astype(np.float32)
        codes = plain.encode(audio)
        total = args.stems * args.seconds
        runs = {
            "encode_x_realtime": lambda: plain.encode(audio),
            "decode_torch_x_realtime": lambda: plain.decode(codes),
            "decode_onnx_x_realtime": lambda: fast.decode(codes),
        }
        codec = {name: total / best_time_s(fn, args.repeats) for name, fn in runs.items()}
        renderer_config = RendererConfig(kits=("acoustic",), n_q=config.n_q, card=config.bins)
        lm, conditioner = build(renderer_config)
        renderer = NeuralRenderer(lm.eval(), conditioner.eval(), fast, renderer_config)
        frames = round(args.seconds * config.frame_rate)
        features = torch.zeros(args.stems, frames, FEATURES)
        stem = torch.arange(args.stems) % 6
        kit = torch.zeros(args.stems, dtype=torch.long)
        lm_s = best_time_s(lambda: renderer.generate(features, stem, kit, seed=0), 1)
        decode_s = best_time_s(lambda: fast.decode(codes), 1)
    result = {
        "machine": f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, "
        f"torch {torch.__version__}, load average {os.getloadavg()[0]:.2f} at the end",
        "beat": f"{args.seconds:g} s, {args.stems} stems",
        "codec": {k: round(v, 1) for k, v in codec.items()},
        "token_model": {
            "shape": f"{renderer_config.num_layers} layers, d={renderer_config.dim}",
            "steps": frames + config.n_q,
            "seconds": round(lm_s, 2),
            "ms_per_step": round(1000 * lm_s / (frames + config.n_q), 2),
        },
        "neural_render_x_realtime": round(args.seconds / (lm_s + decode_s), 2),
    }
    out = ROOT / "benchmarks/results/neural-speed.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
