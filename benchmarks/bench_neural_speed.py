"""Speed of the neural stack's shapes on this machine, before any training (weights do not change
the arithmetic): codec encode/decode (torch, and the decoder under onnxruntime) and the token
model writing a 30-second six-stem beat, against audiocraft's own streaming forward (its KV cache
grown by concatenation) driving the same model and sampler in the same run.

    python benchmarks/bench_neural_speed.py [--seconds 30] [--stems 6] [--dim D --layers L]

Writes benchmarks/results/neural-speed.json (neural-speed-<layers>x<dim>.json for another shape).
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from machine import describe_machine  # noqa: E402
from measures import best_time_s  # noqa: E402

from audiogen.codec.config import CodecConfig  # noqa: E402
from audiogen.codec.model import Codec, build_model, export_decoder, save_checkpoint  # noqa: E402
from audiogen.renderers import neural  # noqa: E402
from audiogen.renderers.features import FEATURES  # noqa: E402
from audiogen.renderers.neural import NeuralRenderer, RendererConfig, build  # noqa: E402


class AudiocraftStreaming:
    """The peer: `LMModel` in audiocraft's streaming mode, which the renderer used before its own
    decoder; same interface as `neural._Decoder` (tokens from step ``start`` -> next logits)."""

    def __init__(self, lm, condition) -> None:
        lm.reset_streaming()  # a new window starts with an empty cache
        self.lm, self.condition = lm, condition

    def __call__(self, tokens, start: int):
        import torch

        part = self.condition[:, start : start + tokens.shape[-1]]
        ones = torch.ones(part.shape[:2])
        return self.lm(tokens, [], {neural.CONDITION: (part, ones)})[:, :, -1]


def main() -> None:
    import torch

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--stems", type=int, default=6)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--dim", type=int, default=RendererConfig.dim, help="another shape")
    parser.add_argument("--layers", type=int, default=RendererConfig.num_layers)
    args = parser.parse_args()
    torch.set_num_threads(os.cpu_count() or 1)
    load_at_start = os.getloadavg()[0]

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
        renderer_config = RendererConfig(kits=("acoustic",), n_q=config.n_q, card=config.bins,
                                         dim=args.dim, num_layers=args.layers)  # fmt: skip
        lm, conditioner = build(renderer_config)
        renderer = NeuralRenderer(lm.eval(), conditioner.eval(), fast, renderer_config)
        frames = round(args.seconds * config.frame_rate)
        features = torch.zeros(args.stems, frames, FEATURES)
        stem = torch.arange(args.stems) % 6
        kit = torch.zeros(args.stems, dtype=torch.long)
        wall, cpu = {}, {}  # best of the repeats; CPU time too, as the machine is shared

        def timed(name: str) -> None:
            start, start_cpu = time.perf_counter(), time.process_time()
            renderer.generate(features, stem, kit)
            wall[name] = min(wall.get(name, math.inf), time.perf_counter() - start)
            cpu[name] = min(cpu.get(name, math.inf), time.process_time() - start_cpu)

        for _ in range(args.repeats):  # interleaved, so both see the same neighbours
            timed("ours")
            with mock.patch.object(neural, "_Decoder", AudiocraftStreaming), lm.streaming():
                timed("audiocraft")
    decode_s = total / codec["decode_onnx_x_realtime"]  # the best of the repeats above
    steps = frames + config.n_q
    result = {
        "machine": describe_machine(torch.get_num_threads(), load_at_start=load_at_start),
        "beat": f"{args.seconds:g} s, {args.stems} stems",
        "codec": {k: round(v, 1) for k, v in codec.items()},
        "token_model": {
            "shape": f"{renderer_config.num_layers} layers, d={renderer_config.dim}",
            "steps": steps,
            "seconds": round(wall["ours"], 2),
            "cpu_seconds": round(cpu["ours"], 2),
            "ms_per_step": round(1000 * wall["ours"] / steps, 2),
            "audiocraft_streaming_seconds": round(wall["audiocraft"], 2),
            "audiocraft_streaming_cpu_seconds": round(cpu["audiocraft"], 2),
            "audiocraft_streaming_ms_per_step": round(1000 * wall["audiocraft"] / steps, 2),
            "speedup": round(wall["audiocraft"] / wall["ours"], 2),
            "speedup_cpu": round(cpu["audiocraft"] / cpu["ours"], 2),
        },
        "neural_render_x_realtime": round(args.seconds / (wall["ours"] + decode_s), 2),
    }
    default = (args.layers, args.dim) == (RendererConfig.num_layers, RendererConfig.dim)
    name = "neural-speed" + ("" if default else f"-{args.layers}x{args.dim}")
    out = ROOT / f"benchmarks/results/{name}.json"
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
