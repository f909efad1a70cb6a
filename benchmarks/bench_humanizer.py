"""Humanizer against real drummers: on the Groove MIDI Dataset's test split, each performance is
quantised (grid positions, velocity reduced to the planner's velocity bin) and played again by
the humanizer and by three baselines; we compare with what the drummer played.

    python benchmarks/bench_humanizer.py --groove ../shared/datasets/groove

- Errors per hit: timing MAE (ms) and velocity MAE, against the performed hit.
- Realism per bar: a discriminator (logistic regression, and a small MLP) learns real bars vs one
  method's bars on the validation split, from per-bar offset/velocity statistics, and is scored
  on the test split: 50 % accuracy means it cannot tell them apart.
- What a listener would notice: mean offset per instrument, velocity per input bin, the swung
  note's lateness in swung performances, each real vs ours.

Methods: ``none`` (the grid, the bin's velocity), ``none+swing`` (plus the feel's mechanical
swing, what the planner writes), ``jitter`` (none+swing plus Gaussian offset and velocity noise
with the train split's mean and spread), ``mean`` (the train split's mean offset per feel,
instrument and position in the bar, and mean velocity per instrument, position and bin),
``ours-mode`` (the humanizer's most likely performance), ``ours`` (drawn, temperature 1: what
`audiogen generate` plays).
Writes benchmarks/results/humanizer.json.
"""

from __future__ import annotations

import argparse
import json
import time
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from machine import describe_machine

from audiogen.humanize import Humanizer
from audiogen.humanize.model import collate, half_sixteenth_ms
from audiogen.instruments import GROUP_OF, INSTRUMENTS
from audiogen.planner.tokens import VELOCITY_OF_BIN
from audiogen.training.groove import load_groove
from audiogen.training.humanizer import phrase_hits, phrase_track

REPO = Path(__file__).resolve().parents[1]
CENTERS = np.array(VELOCITY_OF_BIN, dtype=np.float64)


def tracks_of(phrases):
    """(phrase, track, bar of each hit, position in the bar of each hit) per performance."""
    out = []
    for p in phrases:
        t = phrase_track(p)
        if len(t):
            ticks = np.array([h[0] for h in phrase_hits(p)])
            out.append((p, t, ticks // p.meter.ticks_per_bar, ticks % p.meter.ticks_per_bar))
    return out


# -- methods ---------------------------------------------------------------------------------


def method_none(t, swing: bool):
    return (t.swing_ms.astype(np.float64) if swing else np.zeros(len(t))), CENTERS[t.vbin]


class Jitter:
    """Gaussian noise around the grid (with the feel's swing) with the train split's spread."""

    def __init__(self, train):
        off = np.concatenate([t.offset_ms - t.swing_ms for _, t, _, _ in train])
        vel = np.concatenate([t.velocity - CENTERS[t.vbin] for _, t, _, _ in train])
        self.params = (float(off.mean()), float(off.std()), float(vel.mean()), float(vel.std()))

    def __call__(self, t, rng):
        mo, so, mv, sv = self.params
        n = len(t)
        offset = t.swing_ms + rng.normal(mo, so, n)
        velocity = np.clip(CENTERS[t.vbin] + rng.normal(mv, sv, n), 1, 127)
        return offset, velocity


class MeanTable:
    """Train-split means: offset per (feel, meter, instrument, position), velocity per
    (instrument, position, bin); coarser keys when a key was never seen."""

    def __init__(self, train):
        self.off = [defaultdict(list) for _ in range(3)]
        self.vel = [defaultdict(list) for _ in range(3)]
        for p, t, _, pos in train:
            for k in range(len(t)):
                for table, key in zip(self.off, self._off_keys(p, t, pos, k)):
                    table[key].append(float(t.offset_ms[k]))
                for table, key in zip(self.vel, self._vel_keys(t, pos, k)):
                    table[key].append(float(t.velocity[k]))
        self.off = [{k: float(np.mean(v)) for k, v in d.items()} for d in self.off]
        self.vel = [{k: float(np.mean(v)) for k, v in d.items()} for d in self.vel]

    @staticmethod
    def _off_keys(p, t, pos, k):
        inst = int(t.instrument[k])
        return ((t.feel, t.meter, inst, int(pos[k])), (t.feel, inst, int(pos[k]) % 24), (inst,))

    @staticmethod
    def _vel_keys(t, pos, k):
        inst, b = int(t.instrument[k]), int(t.vbin[k])
        return ((inst, int(pos[k]), b), (inst, b), (b,))

    def __call__(self, p, t, pos):
        off = np.zeros(len(t))
        vel = np.zeros(len(t))
        for k in range(len(t)):
            off[k] = _lookup(self.off, self._off_keys(p, t, pos, k), 0.0)
            vel[k] = _lookup(self.vel, self._vel_keys(t, pos, k), float(CENTERS[t.vbin[k]]))
        return off, vel


def _lookup(tables, keys, default: float) -> float:
    """The value of the finest key that was seen in training."""
    return next((tab[key] for tab, key in zip(tables, keys) if key in tab), default)


def ours(humanizer, items, temperature, seed=0, batch=24):
    """The humanizer on many tracks at once, batched by length; the clamp `Humanizer` applies."""
    order = sorted(range(len(items)), key=lambda i: len(items[i][1]))
    out = [None] * len(items)
    gen = torch.Generator().manual_seed(seed) if temperature > 0 else None
    for s in range(0, len(order), batch):
        idx = order[s : s + batch]
        tracks = [items[i][1] for i in idx]
        offset, velocity = humanizer.model.decode(
            collate(tracks, humanizer.genres), generator=gen, temperature=temperature
        )
        for j, i in enumerate(idx):
            t = tracks[j]
            n = len(t)
            reach = half_sixteenth_ms(t.bpm)
            off = t.swing_ms + np.clip(offset[j, :n].numpy(), -reach, reach)
            vel = np.clip(np.round(velocity[j, :n].numpy()), 1, 127)
            out[i] = (off.astype(np.float64), vel.astype(np.float64))
    return out


# -- measures ----------------------------------------------------------------------------------

_GROUPS = ("kick", "snare", "hats")
_GROUP_INDEX = np.array([("kick", "snare", "hats").index(GROUP_OF[i])
                         if GROUP_OF[i] in _GROUPS else 3 for i in INSTRUMENTS])  # fmt: skip


def bar_features(t, bars, offset, velocity):
    """Per-bar statistics of a performance (bars with at least 4 hits): the discriminator's
    input."""
    feats = []
    residual = velocity - CENTERS[t.vbin]
    group = _GROUP_INDEX[t.instrument]
    for b in np.unique(bars):
        m = bars == b
        if m.sum() < 4:
            continue
        o, v, r, g = offset[m], velocity[m], residual[m], group[m]
        d = np.diff(o)
        row = [
            o.mean(), o.std(), np.abs(o).mean(), np.median(o), np.ptp(o),
            np.abs(d).mean(), _corr(o[:-1], o[1:]), _corr(o, v),
            v.mean(), v.std(), r.mean(), r.std(), np.abs(r).mean(), np.ptp(v),
            np.mean(np.abs(o) < 1.0),
        ]  # fmt: skip
        for k in range(3):
            sel = g == k
            row += [o[sel].mean(), o[sel].std(), v[sel].std()] if sel.sum() >= 2 else [0, 0, 0]
        feats.append(row)
    return np.array(feats, dtype=np.float64).reshape(-1, 24)


def _corr(a, b):
    if len(a) < 3 or a.std() < 1e-9 or b.std() < 1e-9:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def discriminate(real_val, fake_val, real_test, fake_test, seed=0):
    """Test accuracy of a logistic regression and of a small MLP trained on validation bars."""
    x = np.concatenate([real_val, fake_val])
    y = np.concatenate([np.ones(len(real_val)), np.zeros(len(fake_val))])
    mu, sd = x.mean(0), x.std(0) + 1e-6
    xt = np.concatenate([real_test, fake_test])
    yt = np.concatenate([np.ones(len(real_test)), np.zeros(len(fake_test))])
    x, xt = torch.tensor((x - mu) / sd).float(), torch.tensor((xt - mu) / sd).float()
    y, yt = torch.tensor(y).float(), torch.tensor(yt).float()
    out = {}
    for name in ("logistic", "mlp"):
        torch.manual_seed(seed)
        if name == "logistic":
            net = torch.nn.Linear(x.shape[1], 1)
        else:
            net = torch.nn.Sequential(
                torch.nn.Linear(x.shape[1], 32), torch.nn.ReLU(), torch.nn.Linear(32, 1)
            )
        opt = torch.optim.Adam(net.parameters(), lr=0.01, weight_decay=1e-3)
        for _ in range(600):
            loss = torch.nn.functional.binary_cross_entropy_with_logits(net(x)[:, 0], y)
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            acc = float(((net(xt)[:, 0] > 0).float() == yt).float().mean())
        out[name] = round(100 * acc, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--groove", type=Path, default=REPO.parent / "shared/datasets/groove")
    parser.add_argument("--checkpoint", type=Path, default=REPO / "checkpoints/humanizer")
    parser.add_argument("--out", type=Path, default=REPO / "benchmarks/results/humanizer.json")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--temperatures", default="", help="more drawn temperatures to score, e.g. 0.3,0.5"
    )
    args = parser.parse_args()
    torch.set_num_threads(1)
    started = time.time()
    phrases = load_groove(args.groove)
    split = {s: tracks_of([p for p in phrases if p.split == s])
             for s in ("train", "validation", "test")}  # fmt: skip
    humanizer = Humanizer.load(args.checkpoint)
    jitter, table = Jitter(split["train"]), MeanTable(split["train"])

    def run(name, items, seed):
        rng = np.random.default_rng(seed)
        if name == "ours-mode":
            return ours(humanizer, items, 0.0)
        if name == "ours":
            return ours(humanizer, items, 1.0, seed)
        if name.startswith("ours@"):
            return ours(humanizer, items, float(name[5:]), seed)
        out = []
        for p, t, _, pos in items:
            if name in ("none", "none+swing"):
                out.append(method_none(t, name == "none+swing"))
            elif name == "jitter":
                out.append(jitter(t, rng))
            else:
                out.append(table(p, t, pos))
        return out

    extra = tuple(f"ours@{float(t):g}" for t in args.temperatures.split(",") if t.strip())
    methods = ("none", "none+swing", "jitter", "mean", "ours-mode", "ours", *extra)
    outputs = {m: {s: run(m, split[s], args.seed + i)
                   for i, s in enumerate(("validation", "test"))} for m in methods}  # fmt: skip
    test, val = split["test"], split["validation"]
    real_off = np.concatenate([t.offset_ms for _, t, _, _ in test]).astype(np.float64)
    real_vel = np.concatenate([t.velocity for _, t, _, _ in test]).astype(np.float64)

    def feats(items, outs):
        rows = [bar_features(t, bars, o, v) for (_, t, bars, _), (o, v) in zip(items, outs)]
        return np.concatenate(rows)

    real_feats = {
        "validation": feats(val, [(t.offset_ms.astype(float), t.velocity.astype(float))
                                  for _, t, _, _ in val]),
        "test": feats(test, [(t.offset_ms.astype(float), t.velocity.astype(float))
                             for _, t, _, _ in test]),
    }  # fmt: skip
    results: dict = {"methods": {}}
    for m in methods:
        off = np.concatenate([o for o, _ in outputs[m]["test"]])
        vel = np.concatenate([v for _, v in outputs[m]["test"]])
        disc = discriminate(
            real_feats["validation"], feats(val, outputs[m]["validation"]),
            real_feats["test"], feats(test, outputs[m]["test"]), seed=args.seed,
        )  # fmt: skip
        results["methods"][m] = {
            "timing_mae_ms": round(float(np.abs(off - real_off).mean()), 2),
            "velocity_mae": round(float(np.abs(vel - real_vel).mean()), 2),
            "discriminator_accuracy_pct": disc,
        }
        print(m, results["methods"][m], flush=True)
    results["character"] = character(test, outputs["ours"]["test"])
    results["speed"] = speed(humanizer)
    results["data"] = {
        "test_performances": len(test), "test_hits": int(len(real_off)),
        "test_bars_scored": int(len(real_feats["test"])),
        "validation_bars_scored": int(len(real_feats["validation"])),
    }  # fmt: skip
    names = ("offset_mean_ms", "offset_std_ms", "velocity_mean", "velocity_std")
    results["jitter_params"] = dict(zip(names, np.round(jitter.params, 2).tolist()))
    results["checkpoint"] = humanizer.version
    results["command"] = "python benchmarks/bench_humanizer.py"
    results["machine"] = describe_machine(torch_threads=torch.get_num_threads())
    results["seconds"] = round(time.time() - started, 1)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(results, indent=1) + "\n")
    print(json.dumps({k: v for k, v in results.items() if k != "methods"}, indent=1))


def character(test, drawn):
    """Real vs ours: mean offset per instrument, velocity per input bin, swung-note lateness."""
    inst = np.concatenate([t.instrument for _, t, _, _ in test])
    vbin = np.concatenate([t.vbin for _, t, _, _ in test])
    real_off = np.concatenate([t.offset_ms for _, t, _, _ in test])
    real_vel = np.concatenate([t.velocity for _, t, _, _ in test])
    ours_off = np.concatenate([o for o, _ in drawn])
    ours_vel = np.concatenate([v for _, v in drawn])
    out: dict = {"offset_by_instrument_ms": {}, "velocity_by_bin": {}, "swung_note_ms": {}}
    for i, name in enumerate(INSTRUMENTS):
        m = inst == i
        if m.sum() >= 200:
            out["offset_by_instrument_ms"][name] = {
                "hits": int(m.sum()), "real": round(float(real_off[m].mean()), 1),
                "ours": round(float(ours_off[m].mean()), 1),
            }  # fmt: skip
    for b in range(len(CENTERS)):
        m = vbin == b
        if m.sum():
            out["velocity_by_bin"][str(b)] = {
                "hits": int(m.sum()), "real": round(float(real_vel[m].mean()), 1),
                "ours": round(float(ours_vel[m].mean()), 1),
            }  # fmt: skip
    for feel, note in (("swing8", 12), ("swing16", 6)):
        r, o, s = [], [], []
        for (_, t, _, pos), (off, _) in zip(test, drawn):
            if t.feel != feel:
                continue
            on = (pos % (2 * note)) == note
            r.append(t.offset_ms[on])
            o.append(off[on])
            s.append(t.offset_ms[(pos % (2 * note)) == 0])
        if r:
            out["swung_note_ms"][feel] = {
                "hits": int(sum(len(x) for x in r)),
                "real": round(float(np.mean(np.concatenate(r))), 1),
                "ours": round(float(np.mean(np.concatenate(o))), 1),
                "real_on_the_beat_side": round(float(np.mean(np.concatenate(s))), 1),
            }
    return out


def speed(humanizer):
    """Seconds to humanize a 32-bar 4/4 beat of 8th hats, kick and snare (median of 3)."""
    from audiogen.score import DrumScore, Hit, Meter, Provenance

    hits = []
    for bar in range(32):
        for k in range(8):
            hits.append(Hit(bar * 96 + k * 12, "hat_closed", 80))
        hits += [Hit(bar * 96, "kick", 100), Hit(bar * 96 + 48, "kick", 100),
                 Hit(bar * 96 + 24, "snare", 110), Hit(bar * 96 + 72, "snare", 110)]  # fmt: skip
    score = DrumScore(120.0, Meter(4, 4), 32, tuple(hits), provenance=Provenance(genre="rock"))
    times = []
    for _ in range(3):
        t0 = time.perf_counter()
        humanizer.humanize(score, seed=1)
        times.append(time.perf_counter() - t0)
    return {"bars": 32, "hits": len(hits), "seconds": round(float(np.median(times)), 3)}


if __name__ == "__main__":
    main()
