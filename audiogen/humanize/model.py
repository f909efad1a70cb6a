"""The humanizer's network and how a run of hits becomes its input: a bidirectional GRU reads the
quantised hits of a score (instrument, place in the beat, velocity bin, gap to the previous hit,
genre, tempo, feel, swing, meter), and an autoregressive GRU writes each hit's performed timing
and velocity as a Laplace distribution, seeing what it wrote for the hits before (a drummer who
rushes one stroke rushes the next)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from torch import nn

from audiogen.instruments import INSTRUMENTS
from audiogen.planner.tokens import VELOCITY_OF_BIN, velocity_bin
from audiogen.score import FEELS, TICKS_PER_QUARTER, swing_offset_ms

METERS = ("4/4", "3/4", "6/8", "other")
NO_GENRE = "none"
MAX_GAP = 48  # ticks: a longer silence before a hit reads as this
OFFSET_UNIT_MS = 20.0  # targets are scaled to about unit size
VELOCITY_UNIT = 16.0
MAX_RESIDUAL = 4.0  # in OFFSET_UNIT_MS: hits further off the grid are clipped when learning
_INSTRUMENT_INDEX = {name: i for i, name in enumerate(INSTRUMENTS)}


@dataclass(frozen=True)
class HumanizerConfig:
    genres: tuple[str, ...]  # genres with enough training data; others read as NO_GENRE
    d_embed: int = 64
    d_encoder: int = 48
    d_decoder: int = 64

    def to_dict(self) -> dict:
        out = asdict(self)
        out["genres"] = list(self.genres)
        return out


@dataclass(frozen=True)
class Track:
    """One performance (or score) as the network reads it: hits in time order plus conditions.

    Integer arrays: ``instrument``, ``beat`` (quarter index in the bar, mod 4), ``phase`` (tick
    within the quarter), ``vbin`` (planner velocity bin), ``gap`` (ticks since the previous hit).
    ``swing_ms``: the mechanical swing offset of each hit (0 unless swung and on a swung note).
    Targets (performed ``offset_ms`` and ``velocity``) are present for training data only.
    """

    instrument: np.ndarray
    beat: np.ndarray
    phase: np.ndarray
    vbin: np.ndarray
    gap: np.ndarray
    swing_ms: np.ndarray
    genre: str
    bpm: float
    feel: str
    swing: float
    meter: str
    offset_ms: np.ndarray | None = None
    velocity: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.instrument)


def half_sixteenth_ms(bpm: float) -> float:
    """Half a 16th note in ms: how far the humanizer may move a hit from where its feel puts it."""
    return 3 * 60_000.0 / (bpm * TICKS_PER_QUARTER)


def make_track(
    hits: Sequence[tuple[int, int, str, int, float]],
    *,
    genre: str | None,
    bpm: float,
    feel: str,
    swing: float,
    meter: str,
    performed: bool = False,
) -> Track:
    """A `Track` from hits ``(absolute tick, position in bar, instrument, velocity, offset_ms)``
    already in time order (`time_order`). With ``performed``, velocity and offset are kept as
    targets and the input velocity is the planner's bin of the played one."""
    n = len(hits)
    ticks = np.array([h[0] for h in hits], dtype=np.int64)
    positions = np.array([h[1] for h in hits], dtype=np.int64)
    gaps = np.diff(ticks, prepend=ticks[0] - MAX_GAP if n else 0)
    velocities = np.array([h[3] for h in hits], dtype=np.int64)
    feel = feel if feel in FEELS else "straight"
    swing = float(swing) if feel in ("swing8", "swing16") else 0.5
    return Track(
        instrument=np.array([_INSTRUMENT_INDEX[h[2]] for h in hits], dtype=np.int64),
        beat=(positions // TICKS_PER_QUARTER) % 4,
        phase=positions % TICKS_PER_QUARTER,
        vbin=np.array([velocity_bin(int(v)) for v in velocities], dtype=np.int64),
        gap=np.clip(gaps, 0, MAX_GAP),
        swing_ms=np.array(
            [swing_offset_ms(int(p), feel, swing, bpm) for p in positions], dtype=np.float32
        ),
        genre=genre or NO_GENRE,
        bpm=float(bpm),
        feel=feel,
        swing=swing,
        meter=meter if meter in METERS else "6/8" if meter == "12/8" else "other",
        offset_ms=np.array([h[4] for h in hits], dtype=np.float32) if performed else None,
        velocity=velocities.astype(np.float32) if performed else None,
    )


def time_order(instrument: str) -> int:
    """Hits on one tick are read in instrument-class order (kick first)."""
    return _INSTRUMENT_INDEX[instrument]


@dataclass
class Batch:
    ints: torch.Tensor  # (B, T, 5): instrument, beat, phase, vbin, gap
    conds: torch.Tensor  # (B, 3): genre, feel, meter
    floats: torch.Tensor  # (B, T, 4): swing_ms, tempo, swing, 16th length
    mask: torch.Tensor  # (B, T) bool
    center: torch.Tensor  # (B, T): velocity of the input bin
    target: torch.Tensor | None  # (B, T, 2): offset and velocity residuals, scaled


def collate(tracks: Sequence[Track], genres: Sequence[str]) -> Batch:
    """Pad tracks into one batch (targets too when every track has them)."""
    genre_index = {g: i for i, g in enumerate((*genres, NO_GENRE))}
    length = max(len(t) for t in tracks)
    b = len(tracks)
    ints = torch.zeros(b, length, 5, dtype=torch.long)
    floats = torch.zeros(b, length, 4)
    mask = torch.zeros(b, length, dtype=torch.bool)
    center = torch.zeros(b, length)
    with_targets = all(t.offset_ms is not None for t in tracks)
    target = torch.zeros(b, length, 2) if with_targets else None
    conds = torch.zeros(b, 3, dtype=torch.long)
    centers = torch.tensor(VELOCITY_OF_BIN, dtype=torch.float32)
    for i, t in enumerate(tracks):
        n = len(t)
        cols = (t.instrument, t.beat, t.phase, t.vbin, t.gap)
        ints[i, :n] = torch.from_numpy(np.stack(cols, axis=1))
        swing_ms = torch.from_numpy(t.swing_ms)
        floats[i, :n, 0] = swing_ms / OFFSET_UNIT_MS
        floats[i, :n, 1] = math.log(t.bpm / 110.0)
        floats[i, :n, 2] = (t.swing - 0.5) * 4
        floats[i, :n, 3] = half_sixteenth_ms(t.bpm) / 50.0
        mask[i, :n] = True
        center[i, :n] = centers[torch.from_numpy(t.vbin)]
        conds[i, 0] = genre_index.get(t.genre, genre_index[NO_GENRE])
        conds[i, 1] = FEELS.index(t.feel)
        conds[i, 2] = METERS.index(t.meter)
        if target is not None:
            off = (torch.from_numpy(t.offset_ms) - swing_ms) / OFFSET_UNIT_MS
            target[i, :n, 0] = off.clamp(-MAX_RESIDUAL, MAX_RESIDUAL)
            target[i, :n, 1] = (torch.from_numpy(t.velocity) - center[i, :n]) / VELOCITY_UNIT
    return Batch(ints, conds, floats, mask, center, target)


class HumanizerNet(nn.Module):
    """Encoder over the quantised hits, autoregressive decoder of (offset, velocity) Laplaces."""

    def __init__(self, cfg: HumanizerConfig) -> None:
        super().__init__()
        self.cfg = cfg
        self.instrument = nn.Embedding(len(INSTRUMENTS), 16)
        self.beat = nn.Embedding(4, 4)
        self.phase = nn.Embedding(TICKS_PER_QUARTER, 12)
        self.vbin = nn.Embedding(len(VELOCITY_OF_BIN), 8)
        self.gap = nn.Embedding(MAX_GAP + 1, 8)
        self.genre = nn.Embedding(len(cfg.genres) + 1, 8)
        self.feel = nn.Embedding(len(FEELS), 4)
        self.meter = nn.Embedding(len(METERS), 4)
        d_in = 16 + 4 + 12 + 8 + 8 + 8 + 4 + 4 + 4
        self.inp = nn.Sequential(nn.Linear(d_in, cfg.d_embed), nn.GELU())
        self.encoder = nn.GRU(
            cfg.d_embed, cfg.d_encoder, num_layers=2, batch_first=True, bidirectional=True
        )
        self.decoder = nn.GRU(2 * cfg.d_encoder + 2, cfg.d_decoder, batch_first=True)
        self.head = nn.Linear(cfg.d_decoder, 4)

    def encode(self, batch: Batch) -> torch.Tensor:
        i, c = batch.ints, batch.conds
        t = i.shape[1]
        parts = [
            self.instrument(i[..., 0]), self.beat(i[..., 1]), self.phase(i[..., 2]),
            self.vbin(i[..., 3]), self.gap(i[..., 4]),
            self.genre(c[:, 0])[:, None].expand(-1, t, -1),
            self.feel(c[:, 1])[:, None].expand(-1, t, -1),
            self.meter(c[:, 2])[:, None].expand(-1, t, -1),
            batch.floats,
        ]  # fmt: skip
        context, _ = self.encoder(self.inp(torch.cat(parts, dim=-1)))
        return context

    @staticmethod
    def _params(out: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Locations (…, 2) and scales (…, 2) of the offset and velocity residuals."""
        loc = out[..., 0::2]
        scale = nn.functional.softplus(out[..., 1::2]) + 0.02
        return loc, scale

    def loss(self, batch: Batch) -> torch.Tensor:
        """Mean Laplace negative log-likelihood per hit (offset + velocity), teacher-forced."""
        assert batch.target is not None
        context = self.encode(batch)
        previous = torch.nn.functional.pad(batch.target[:, :-1], (0, 0, 1, 0))
        hidden, _ = self.decoder(torch.cat([context, previous], dim=-1))
        loc, scale = self._params(self.head(hidden))
        nll = torch.log(2 * scale) + (batch.target - loc).abs() / scale
        m = batch.mask.float()[..., None]
        return (nll * m).sum() / m.sum()

    @torch.no_grad()
    def decode(
        self, batch: Batch, generator: torch.Generator | None = None, temperature: float = 1.0
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Write every hit in turn: the distribution's location (``generator`` None) or a draw
        from it. Returns the offsets in ms (before swing) and the velocities, each (B, T)."""
        context = self.encode(batch)
        b, t, d = context.shape
        # The decoder GRU by hand, one hit at a time: the context's share of the input gates is
        # computed for all hits at once, so each step is a few small matrix products.
        w_ih, w_hh, b_ih, b_hh = (
            self.decoder.get_parameter(name)
            for name in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")
        )
        gates_in = context @ w_ih[:, :d].T + b_ih
        w_prev = w_ih[:, d:].T
        w_hid = w_hh.T
        w_head, b_head = self.head.weight.T, self.head.bias
        hidden = torch.zeros(b, self.cfg.d_decoder)
        previous = torch.zeros(b, 2)
        out = torch.zeros(b, t, 2)
        for k in range(t):
            gi = gates_in[:, k] + previous @ w_prev
            gh = hidden @ w_hid + b_hh
            i_r, i_z, i_n = gi.chunk(3, dim=-1)
            h_r, h_z, h_n = gh.chunk(3, dim=-1)
            r, z = torch.sigmoid(i_r + h_r), torch.sigmoid(i_z + h_z)
            hidden = (1 - z) * torch.tanh(i_n + r * h_n) + z * hidden
            loc, scale = self._params(hidden @ w_head + b_head)
            if generator is not None:
                u = torch.rand(loc.shape, generator=generator) - 0.5
                loc = loc - temperature * scale * u.sign() * torch.log1p(-2 * u.abs())
            loc = torch.stack([loc[:, 0].clamp(-MAX_RESIDUAL, MAX_RESIDUAL), loc[:, 1]], -1)
            out[:, k] = loc
            previous = loc
        offset = out[..., 0] * OFFSET_UNIT_MS
        velocity = batch.center + out[..., 1] * VELOCITY_UNIT
        return offset, velocity
