"""The drum codec: audio ↔ tokens with audiocraft's `EncodecModel`, and its checkpoint."""

from __future__ import annotations

import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from audiogen.codec import _audiocraft
from audiogen.codec.config import CodecConfig
from audiogen.errors import AudiogenError
from audiogen.files import atomic_path, write_text_atomic

if TYPE_CHECKING:
    import torch
    from audiocraft.models.encodec import EncodecModel
    from onnxruntime import InferenceSession

log = logging.getLogger(__name__)

WEIGHTS = "codec.safetensors"
CARD = "codec.json"
DECODER_ONNX = "decoder.onnx"  # the same decoder for onnxruntime: ~3x faster on a CPU than torch


def build_model(config: CodecConfig) -> EncodecModel:
    """A fresh, untrained `EncodecModel` of ``config``'s shape."""
    seanet = _audiocraft.load("modules.seanet")
    quantization = _audiocraft.load("quantization")
    encodec = _audiocraft.load("models.encodec")
    common = dict(
        channels=1, dimension=config.dimension, n_filters=config.n_filters,
        n_residual_layers=config.n_residual_layers, ratios=list(config.ratios),
        lstm=config.lstm, norm="weight_norm", causal=False, pad_mode="constant",
    )  # fmt: skip
    with warnings.catch_warnings():  # audiocraft's weight norm: torch's deprecation notice
        warnings.filterwarnings("ignore", "`torch.nn.utils.weight_norm` is deprecated")
        encoder = seanet.SEANetEncoder(**common)
        decoder = seanet.SEANetDecoder(**common)
    quantizer = quantization.ResidualVectorQuantizer(
        dimension=config.dimension, n_q=config.n_q, bins=config.bins, q_dropout=True
    )
    return encodec.EncodecModel(
        encoder, decoder, quantizer, frame_rate=config.frame_rate,
        sample_rate=config.sample_rate, channels=1, causal=False, renormalize=False,
    )  # fmt: skip


@dataclass
class Codec:
    """A trained codec, ready to encode and decode mono drum audio.

    Args:
        model: the `EncodecModel`, in eval mode.
        config: its shape.
        meta: what the checkpoint says about itself (version, steps, metrics).
    """

    model: EncodecModel
    config: CodecConfig
    meta: dict[str, Any]
    onnx_decoder: InferenceSession | None = None  # when the checkpoint ships the decoder graph

    @property
    def sample_rate(self) -> int:
        return self.config.sample_rate

    @property
    def version(self) -> str:
        return str(self.meta.get("version", "untrained"))

    @property
    def tokens_version(self) -> str:
        """The checkpoint whose tokens this codec reads and writes: its own version, or, when only
        its decoder was trained further, the version it started from."""
        tokens = self.meta.get("tokens")
        return str(tokens["codec"]) if isinstance(tokens, dict) else self.version

    @classmethod
    def load(cls, folder: Path | str, device: str = "cpu") -> Codec:
        """Load ``codec.safetensors`` and ``codec.json`` from ``folder``."""
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        folder = Path(folder)
        try:
            meta = json.loads((folder / CARD).read_text())
            config = CodecConfig.from_dict(meta["config"])
            state = load_file(str(folder / WEIGHTS), device=device)
        except (OSError, ValueError, KeyError, TypeError, SafetensorError) as exc:
            raise AudiogenError(f"codec checkpoint in {folder} cannot be read ({exc})") from None
        model = build_model(config)
        try:
            model.load_state_dict({k: v.float() for k, v in state.items()})
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise AudiogenError(f"codec checkpoint in {folder} does not fit ({first})") from None
        model.to(device).eval()
        return cls(model, config, meta, _onnx_session(folder / DECODER_ONNX, device))

    def encode(self, audio: np.ndarray | torch.Tensor, n_q: int | None = None) -> torch.Tensor:
        """Mono audio at the codec's rate, shape [T] or [B, T] → int codes [B, K, frames]."""
        import torch

        x = torch.as_tensor(audio, dtype=torch.float32)
        x = x.reshape(-1, 1, x.shape[-1]).to(self._device)
        self.model.set_num_codebooks(n_q or self.config.n_q)
        with torch.inference_mode():
            codes, _ = self.model.encode(x)
        return codes

    def decode(self, codes: torch.Tensor, length: int | None = None) -> np.ndarray:
        """Codes [B, K, frames] → float32 audio [B, samples] (cut to ``length`` if given)."""
        import torch

        with torch.inference_mode():
            if self.onnx_decoder is not None:
                latent = self.model.decode_latent(codes.to(self._device)).float().cpu().numpy()
                audio = self.onnx_decoder.run(None, {"latent": latent})[0][:, 0]
            else:
                audio = self.model.decode(codes.to(self._device))[:, 0].float().cpu().numpy()
        if length is not None:
            audio = audio[:, :length]
        return np.ascontiguousarray(audio, dtype=np.float32)

    @property
    def _device(self) -> torch.device:
        return next(self.model.parameters()).device


def save_checkpoint(
    model: EncodecModel, config: CodecConfig, folder: Path, meta: dict[str, Any]
) -> None:
    """Write the model (fp16 safetensors; loaded back as fp32) and its JSON card atomically."""
    from safetensors.torch import save_file

    folder.mkdir(parents=True, exist_ok=True)
    state = {
        k: (v.detach().half() if v.is_floating_point() else v.detach()).cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    card = dict(meta, config=config.to_dict(), bitrate_bps=config.bitrate())
    write_text_atomic(folder / CARD, json.dumps(card, indent=1) + "\n")


def _onnx_session(path: Path, device: str) -> InferenceSession | None:
    if not path.exists() or device != "cpu":
        return None
    try:
        import onnxruntime
    except ImportError:
        log.info("onnxruntime is not installed: the codec decodes with torch (slower)")
        return None
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = min(os.cpu_count() or 1, 8)
    options.log_severity_level = 3
    return onnxruntime.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


def export_decoder(model: EncodecModel, config: CodecConfig, folder: Path) -> Path:
    """Write the decoder as ONNX (needs the ``onnx`` package; the product only reads it).

    SEANet's decoder pads by amounts that do not depend on the input length, so one graph with a
    dynamic frame axis decodes any length exactly as torch does.
    """
    import torch

    decoder = build_model(config).decoder
    decoder.load_state_dict(model.decoder.state_dict())
    decoder.eval()
    for module in decoder.modules():  # bake weight norm into plain weights
        if hasattr(module, "weight_g"):
            torch.nn.utils.remove_weight_norm(module)
    latent = torch.zeros(2, config.dimension, 50)
    frames, batch = torch.export.Dim("frames", min=2, max=100_000), torch.export.Dim("batch")
    with warnings.catch_warnings(), atomic_path(folder / DECODER_ONNX) as tmp:
        warnings.simplefilter("ignore")
        program = torch.onnx.export(
            decoder, (latent,), input_names=["latent"], output_names=["audio"],
            dynamic_shapes=({0: batch, 2: frames},), dynamo=True, verbose=False,
        )  # fmt: skip
        assert program is not None  # the dynamo exporter always returns its program
        program.save(str(tmp))
    return folder / DECODER_ONNX
