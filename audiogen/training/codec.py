"""Training the codec: audiocraft's EnCodec recipe (multi-scale mel + L1 reconstruction,
multi-scale STFT discriminator with feature matching, the loss balancer), time-boxed, resumable.

State (model, discriminator, optimizers, step, run count) is one file, ``state_dir/state.pt``,
replaced every few minutes and at the end, so a killed run — or one moved to another machine with
that file, as the repository's ``checkpoints/codec/train-state/`` carries it — goes on where it
stopped. Every ``eval_every`` steps an ``evaluate`` callback scores the model on held-out material;
its rows are appended to ``state_dir/curve.jsonl`` (the learning curve).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import platform
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from audiogen.codec import _audiocraft
from audiogen.codec.config import CodecConfig
from audiogen.codec.model import build_model, save_checkpoint
from audiogen.files import atomic_path, write_text_atomic
from audiogen.planner.bars import Phrase
from audiogen.training.clips import ClipMaker
from audiogen.training.config import TrainConfig
from audiogen.training.schedule import cosine_decay

if TYPE_CHECKING:
    import torch
    from audiocraft.models.encodec import EncodecModel
    from torch.utils.data import DataLoader

log = logging.getLogger(__name__)

STATE = "state.pt"  # generator, discriminator, optimizers, step: one file, replaced each save
CURVE = "curve.jsonl"  # one row per evaluation: step, CPU-hours, held-out measures
SAVE_EVERY_S = 300.0
DISC_FFTS = [1024, 2048, 512, 256, 128]  # the discriminator's STFT sizes (hop a quarter of each)


@dataclass(frozen=True, kw_only=True)
class CodecTrainConfig(TrainConfig):
    """How the codec is trained (audiocraft's compression-solver recipe, scaled down)."""

    segment_s: float = 1.0
    batch_size: int = 32
    lr: float = 3e-4
    betas: tuple[float, float] = (0.5, 0.9)
    adversarial_after: int = 1000  # steps of reconstruction only before the discriminator joins
    weights: dict[str, float] = field(
        default_factory=lambda: {"adv": 4.0, "feat": 4.0, "l1": 0.1, "msspec": 2.0}
    )
    disc_filters: int = 32
    disc_scales: int = 5  # the first n of the discriminator's five STFT resolutions
    disc_every: int = 1  # the adversarial losses (and the discriminator's update) every k-th step
    lr_decay: bool = False  # cosine from ``lr`` to a tenth of it over this run (time or steps)
    # Train the decoder alone: encoder and codebooks stay those of the checkpoint the tokens come
    # from (``train``'s ``tokens_from``), so a token model trained on its tokens still fits.
    decoder_only: bool = False
    # With ``decoder_only`` and a ``pairs`` folder: the share of each batch that decodes the token
    # model's own codes for a score to the sampler's render of it (`audiogen.training.pairs`).
    pair_share: float = 0.5
    # The onset loss's weight in the balancer beside the others (0: off): the L1 distance between
    # the spectral flux of the output and of the input, as an onset detector reads it. A codec
    # that smears a cymbal's attack (a pre-echo, then a ring that wavers) leaves the ring's
    # ripples as large as the attack's rise, and a detector takes them for re-strikes
    # (BENCHMARKS.md, "Where the cymbals' added onsets come from").
    flux: float = 0.0
    # Stem group → how many times more clips it gives (`ClipMaker.emphasis`): the cymbals, say,
    # whose long noisy rings the codec plays worst and which few renders hold.
    emphasis: dict[str, int] = field(default_factory=dict)


def _loader(phrases: Sequence[Phrase], kits: Sequence[str], config: CodecConfig,
            train: CodecTrainConfig, workers: int,
            seed: int) -> DataLoader[torch.Tensor]:  # fmt: skip
    import torch
    from torch.utils.data import DataLoader, IterableDataset, get_worker_info

    class Clips(IterableDataset):
        def __iter__(self) -> Iterator[torch.Tensor]:
            info = get_worker_info()
            worker = info.id if info is not None else 0
            maker = ClipMaker(phrases, kits, config.sample_rate, train.segment_s,
                              emphasis=train.emphasis)  # fmt: skip
            for clip in maker.clips(seed * 1000 + worker):
                yield torch.from_numpy(clip)[None]

    return DataLoader(
        Clips(), batch_size=train.batch_size, num_workers=workers,
        persistent_workers=workers > 0, prefetch_factor=8 if workers > 0 else None,
    )  # fmt: skip


def train(
    phrases: Sequence[Phrase],
    kits: Sequence[str],
    out_dir: Path,
    state_dir: Path,
    minutes: float,
    config: CodecConfig | None = None,
    train_config: CodecTrainConfig | None = None,
    device: str | None = None,
    workers: int = 0,
    max_steps: int | None = None,
    evaluate: Callable[[EncodecModel], dict[str, float]] | None = None,
    eval_every: int = 500,
    tokens_from: Path | None = None,
    pairs: Path | None = None,
) -> dict[str, Any]:
    """Train (or resume training) for ``minutes`` of wall time or ``max_steps`` steps.

    With ``train_config.decoder_only``, the encoder and codebooks are those of the checkpoint in
    ``tokens_from`` and stay fixed: the result writes the same tokens, and its card says whose.
    ``pairs`` (a folder of `RenderedPairs` shards) then fills ``train_config.pair_share`` of each
    batch with the token model's codes and the audio they stand for, so that the decoder learns
    to play what the token model writes, not only what the encoder does.

    Returns:
        A summary: steps done in total, this run's steps per second, last losses.
    """
    import torch

    config = config or CodecConfig()
    train_config = train_config or CodecTrainConfig()
    adversarial = _audiocraft.load("adversarial")
    losses_mod = _audiocraft.load("losses")
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    torch.backends.cuda.matmul.allow_tf32 = True
    torch.backends.cudnn.allow_tf32 = True
    torch.manual_seed(train_config.seed)

    model = build_model(config).to(device)
    scales = slice(0, train_config.disc_scales)
    disc = adversarial.MultiScaleSTFTDiscriminator(
        filters=train_config.disc_filters, n_ffts=DISC_FFTS[scales],
        hop_lengths=[n // 4 for n in DISC_FFTS[scales]], win_lengths=DISC_FFTS[scales],
    ).to(device)  # fmt: skip
    trained = model.decoder if train_config.decoder_only else model
    opt_g = torch.optim.Adam(trained.parameters(), lr=train_config.lr, betas=train_config.betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=train_config.lr, betas=train_config.betas)
    adv_loss = adversarial.AdversarialLoss(
        disc, opt_d, loss=adversarial.get_adv_criterion("hinge"),
        loss_real=adversarial.get_real_criterion("hinge"),
        loss_fake=adversarial.get_fake_criterion("hinge"),
        loss_feat=adversarial.FeatureMatchingLoss(torch.nn.L1Loss()),
    )  # fmt: skip
    msspec = losses_mod.MultiScaleMelSpectrogramLoss(config.sample_rate).to(device)
    weights = dict(train_config.weights)
    flux = None
    if train_config.flux:
        weights["flux"] = train_config.flux
        flux = OnsetFlux(config.sample_rate).to(device)
    balancer = losses_mod.Balancer(weights)
    # Steps without the adversarial losses (every step but each `disc_every`-th) balance the
    # reconstruction losses on their own: the balancer wants every loss it weighs.
    plain_balancer = losses_mod.Balancer(
        {k: w for k, w in weights.items() if k not in ("adv", "feat")}
    )

    step, runs, seconds, cpu_seconds = 0, 0, 0.0, 0.0
    state_path = state_dir / STATE
    if state_path.exists():
        state = torch.load(state_path, map_location=device, weights_only=False)
        if state["config"] != config.to_dict():
            raise ValueError(f"{state_path} was trained with another codec shape")
        model.load_state_dict(state["model"])
        try:
            opt_g.load_state_dict(state["opt_g"])
        except ValueError:  # the last run trained other parameters (the whole model, or not)
            log.info("the generator's optimizer covered other parameters: it starts fresh")
        try:
            disc.load_state_dict(state["disc"])
            opt_d.load_state_dict(state["opt_d"])
        except (RuntimeError, ValueError):
            # Another discriminator shape was asked for (see CodecTrainConfig.disc_scales):
            # the generator goes on, the new discriminator starts fresh.
            log.info("the discriminator's shape changed: it starts fresh")
        step, runs, seconds = state["step"], state["runs"], state["seconds"]
        cpu_seconds = state.get("cpu_seconds", 0.0)
        log.info("resumed from %s at step %d", state_path, step)
    tokens = _freeze_front(model, tokens_from, config) if train_config.decoder_only else None
    runs += 1
    for group in opt_g.param_groups + opt_d.param_groups:
        group["lr"] = train_config.lr  # a resumed run may be asked for another rate
    paired = 0
    if tokens is not None and pairs is not None:
        paired = round(train_config.batch_size * train_config.pair_share)
        from audiogen.training.pairs import RenderedPairs

        rendered = RenderedPairs.load(pairs, config.hop_length)
        log.info("%d of every batch's %d clips: the token model's codes (%s)",
                 paired, train_config.batch_size, rendered)  # fmt: skip
        pair_batches = rendered.batches(paired, train_config.segment_s * config.frame_rate,
                                        train_config.seed + runs)  # fmt: skip
    plain = dataclasses.replace(train_config, batch_size=train_config.batch_size - paired)
    # A new data seed per run: a resumed run does not replay the clips it already saw.
    batches = iter(_loader(phrases, kits, config, plain, workers, train_config.seed + runs))

    def save_state() -> None:
        # One file, written beside and renamed into place: a kill leaves the previous save whole.
        state_dir.mkdir(parents=True, exist_ok=True)
        state = {
            "config": config.to_dict(), "train": asdict(train_config),
            "model": model.state_dict(), "disc": disc.state_dict(),
            "opt_g": opt_g.state_dict(), "opt_d": opt_d.state_dict(),
            "step": step, "runs": runs, "seconds": seconds + (time.time() - start),
            "cpu_seconds": cpu_seconds + (time.process_time() - cpu_start),
        }  # fmt: skip
        with atomic_path(state_path) as tmp:
            torch.save(state, tmp)

    def record_eval() -> None:
        if evaluate is None:
            return
        model.eval()
        with torch.no_grad():
            scores = evaluate(model)
        train_mode()
        row = {"step": step, "hours": round((seconds + time.time() - start) / 3600, 4),
               "cpu_hours": round((cpu_seconds + time.process_time() - cpu_start) / 3600, 4),
               "batch": train_config.batch_size, "segment_s": train_config.segment_s,
               "adversarial": step >= train_config.adversarial_after, **scores}  # fmt: skip
        state_dir.mkdir(parents=True, exist_ok=True)
        with open(state_dir / CURVE, "a") as curve:
            curve.write(json.dumps(row) + "\n")
        log.info("eval at step %d: %s", step, scores)

    start = last_save = last_log = time.time()
    cpu_start = time.process_time()
    first_step = step
    averages: dict[str, float] = {}

    def train_mode() -> None:
        model.train()
        if tokens is not None:  # fixed codebooks: eval mode keeps them from moving (EMA, expiry)
            model.encoder.eval()
            model.quantizer.eval()

    train_mode()
    while True:
        elapsed = time.time() - start
        if elapsed > minutes * 60 or (max_steps is not None and step - first_step >= max_steps):
            break
        if train_config.lr_decay:
            done = step - first_step
            progress = max(elapsed / (minutes * 60), done / max_steps if max_steps else 0.0)
            for group in opt_g.param_groups + opt_d.param_groups:
                group["lr"] = cosine_decay(train_config.lr, progress)
        x = next(batches).to(device, non_blocking=True)
        if tokens is not None:
            with torch.no_grad():
                latent = model.quantizer(model.encoder(x), model.frame_rate).x
                if paired:
                    codes, target = next(pair_batches)
                    latent = torch.cat([latent, model.quantizer.decode(codes.to(device))])
                    x = torch.cat([x, target.to(device)])
            y, penalty = model.decoder(latent)[..., : x.shape[-1]], None
        else:
            qres = model(x)
            y, penalty = qres.x, qres.penalty
        losses = {"l1": torch.nn.functional.l1_loss(y, x), "msspec": msspec(y, x)}
        if flux is not None:
            losses["flux"] = torch.nn.functional.l1_loss(flux(y), flux(x))
        if step >= train_config.adversarial_after and step % train_config.disc_every == 0:
            adv_loss.train_adv(y, x)
            losses["adv"], losses["feat"] = adv_loss(y, x)
        opt_g.zero_grad()
        if penalty is not None and penalty.requires_grad:
            penalty.backward(retain_graph=True)
        (balancer if "adv" in losses else plain_balancer).backward(losses, y)
        opt_g.step()
        step += 1
        for name, value in losses.items():
            value = float(value.detach())
            averages[name] = 0.98 * averages.get(name, value) + 0.02 * value
        now = time.time()
        if now - last_log > 30 or step == first_step + 1:
            rate = (step - first_step) / max(now - start, 1e-9)
            log.info("step %d  %.2f steps/s  %s", step, rate,
                     "  ".join(f"{k} {v:.4f}" for k, v in sorted(averages.items())))  # fmt: skip
            last_log = now
        if now - last_save > SAVE_EVERY_S:
            save_state()
            last_save = now
        if evaluate is not None and step % eval_every == 0:
            record_eval()
    save_state()
    if evaluate is not None and step % eval_every != 0:
        record_eval()
    total_s = seconds + (time.time() - start)
    meta = {
        "version": f"codec@{step}",
        "steps": step,
        "train_seconds": round(total_s),
        "hardware": _hardware(device),
        "batch": f"{train_config.batch_size} x {train_config.segment_s:g} s",
        "train_losses": {k: round(v, 5) for k, v in averages.items()},
        "kits": list(kits),
    }
    if tokens is not None:
        meta["tokens"] = tokens
    save_checkpoint(model, config, out_dir, meta)
    settings = json.dumps(asdict(train_config), indent=1) + "\n"
    write_text_atomic(out_dir / "train_config.json", settings)
    rate = (step - first_step) / max(time.time() - start, 1e-9)
    return {"steps": step, "steps_per_s": rate, "losses": averages, "runs": runs}


def OnsetFlux(sample_rate: int) -> torch.nn.Module:  # noqa: N802 (a module's factory)
    """A module from audio [B, 1, T] to its onset strength [B, frames]: the spectral flux an
    onset detector peaks on (as librosa's ``onset_strength`` with its defaults, and our
    benchmarks' `detect_onsets`, read it): a 128-band mel power spectrogram (2048-point frames,
    hop 128) in dB, floored 80 dB under each clip's loudest, and per frame the mean over bands
    of each band's rise since the frame before."""
    import torch
    import torchaudio

    class Flux(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.mel = torchaudio.transforms.MelSpectrogram(
                sample_rate, n_fft=2048, hop_length=128, n_mels=128, power=2.0,
                norm="slaney", mel_scale="slaney",
            )  # fmt: skip

        def forward(self, audio: torch.Tensor) -> torch.Tensor:
            db = 10 * torch.log10(self.mel(audio[:, 0].float()).clamp_min(1e-10))
            floor = db.amax(dim=(1, 2), keepdim=True) - 80.0
            db = torch.maximum(db, floor)
            return torch.relu(db[..., 1:] - db[..., :-1]).mean(dim=1)

    return Flux()


def _freeze_front(model: EncodecModel, folder: Path | None, config: CodecConfig) -> dict[str, str]:
    """Load the encoder and codebooks of the checkpoint in ``folder`` (as shipped: fp16, the
    weights its tokens were written with), stop their gradients, and return the identity of the
    tokens they write (``codec_identity``)."""
    from safetensors.torch import load_file

    from audiogen.codec.model import CARD, WEIGHTS
    from audiogen.training.tokens import codec_identity

    if folder is None:
        raise ValueError("training the decoder alone needs the checkpoint whose tokens it keeps")
    identity = codec_identity(folder)
    card = json.loads((folder / CARD).read_text())
    if card.get("config") != config.to_dict():
        raise ValueError(f"the codec in {folder} has another shape")
    front = {k: v.float() for k, v in load_file(str(folder / WEIGHTS)).items()
             if k.startswith(("encoder.", "quantizer."))}  # fmt: skip
    unexpected = model.load_state_dict(front, strict=False).unexpected_keys
    assert not unexpected, unexpected
    if not all(float(v.min()) == 1.0 for k, v in front.items() if k.endswith(".inited")):
        # A codebook never used yet would be initialised from the next batch: new tokens.
        raise ValueError(f"the codec in {folder} has codebooks it never used: train it whole first")
    for part in (model.encoder, model.quantizer):
        part.requires_grad_(False)
    log.info("decoder only: tokens stay those of %s", identity["codec"])
    return identity


def _hardware(device: str) -> str:
    import torch

    if device.startswith("cuda"):
        return torch.cuda.get_device_name(0)
    return f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores"
