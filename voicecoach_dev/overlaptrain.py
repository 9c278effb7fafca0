"""Training the two-voice model (issue 16) with PyTorch on the CPU: crops of TRAIN talks, validation on TUNE talks.

Seeded and reproducible (the crops come from a numpy generator, the weights from ``torch.manual_seed``, and
PyTorch is asked for deterministic algorithms); a fixed number of updates, not a time limit, decides when it ends.
Writes the weights the product ships (float16, read back as float32), a reference the numpy run-time must
reproduce, and a JSON log of the run. Driven by ``scripts/train-overlap``.
"""

from __future__ import annotations

import json
import logging
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from voicecoach.detect.stream_model import N_CLASSES, STEP_HOPS, StreamModel
from voicecoach_dev.overlapnet import TwoVoiceNet

log = logging.getLogger(__name__)

WARM_STEPS = 34            # the first ~1 s of a crop that starts mid-talk is not scored (the GRU state is cold)
GAIN_LN = 1.4              # crops are shifted by up to this in log-mel (+-6 dB of level)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides the result of a run (with the material it reads)."""

    seed: int = 16
    updates: int = 2400
    batch: int = 48
    crop_steps: int = 400            # 12 s
    lr: float = 2e-3
    weight_decay: float = 1e-4
    count_weights: tuple[float, float, float] = (1.0, 1.0, 3.0)   # two voices are rare (about 6 % of steps)
    cut_weight: float = 1.0
    cut_pos_weight: float = 2.0
    freq_mask: int = 8               # up to this many mel bands masked in half the crops
    validate_every: int = 300
    conv1: int = 96
    conv2: int = 128
    hidden: int = 128
    head: int = 64
    threads: int = 1                 # two threads on a busy 2-core machine: 9x slower per update (measured)


def step_targets(count: np.ndarray, cut: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Per 30 ms step: the share of its three hops with 0, 1, 2 voices (steps, 3) and the cut-in target of its
    last hop (steps,) (1, 0, or -1 = not scored)."""
    steps = len(count) // STEP_HOPS
    c = count[: steps * STEP_HOPS].reshape(steps, STEP_HOPS)
    soft = np.stack([(c == k).mean(1) for k in range(N_CLASSES)], 1).astype(np.float32)
    return soft, cut[STEP_HOPS - 1: steps * STEP_HOPS: STEP_HOPS].astype(np.float32)


class Crops:
    """Random crops of whole talks (aligned to 30 ms steps) with the two hops before each as context."""

    def __init__(self, data: dict[str, Any], config: TrainConfig, rng: np.random.Generator) -> None:
        self.x, self.count, self.cut = data["features"], data["count"], data["cut_in"]
        self.starts = np.concatenate([[0], np.cumsum(data["lengths"])[:-1]])
        self.lengths = data["lengths"]
        self.config, self.rng = config, rng

    def batch(self) -> tuple[torch.Tensor, ...]:
        """(features, context, soft count targets, cut-in targets, score mask) for one batch."""
        c = self.config
        hops = c.crop_steps * STEP_HOPS
        xs, ctx, soft, cut, mask = [], [], [], [], []
        for _ in range(c.batch):
            t = int(self.rng.integers(len(self.lengths)))
            room = max(0, (self.lengths[t] - hops) // STEP_HOPS)
            first = int(self.rng.integers(room + 1)) * STEP_HOPS   # 0 with the talk's own start (silence before)
            a = self.starts[t] + first
            x = self.x[a:a + hops].astype(np.float32)
            context = self.x[a - 2:a].astype(np.float32) if first >= 2 else None
            gain = np.float32(self.rng.uniform(-GAIN_LN, GAIN_LN))
            x = x + gain
            if context is None:
                context = np.full((2, x.shape[1]), np.log(np.float32(1e-10)), np.float32)
            else:
                context = context + gain
            if self.rng.random() < 0.5:
                w = int(self.rng.integers(1, c.freq_mask + 1))
                b = int(self.rng.integers(0, x.shape[1] - w))
                x[:, b:b + w] = x[:, b:b + w].mean()
                context[:, b:b + w] = x[0, b]
            s, k = step_targets(self.count[a:a + hops], self.cut[a:a + hops])
            m = np.ones(len(s), np.float32)
            if first > 0:
                m[:WARM_STEPS] = 0.0
            xs.append(x)
            ctx.append(context)
            soft.append(s)
            cut.append(k)
            mask.append(m)
        return tuple(torch.from_numpy(np.stack(v)) for v in (xs, ctx, soft, cut, mask))


def losses(net: TwoVoiceNet, batch: tuple[torch.Tensor, ...], config: TrainConfig) -> tuple[torch.Tensor, ...]:
    """(total, count loss, cut-in loss) of one batch."""
    x, context, soft, cut, mask = batch
    z, _ = net(x, context)
    return loss_terms(z, soft, cut, mask, config)


def loss_terms(z: torch.Tensor, soft: torch.Tensor, cut: torch.Tensor, mask: torch.Tensor,
               config: TrainConfig) -> tuple[torch.Tensor, ...]:
    """(total, count loss, cut-in loss) from the logits: soft cross-entropy and weighted, masked BCE."""
    weights = torch.tensor(config.count_weights, dtype=z.dtype)
    ce = -(soft * weights * F.log_softmax(z[..., :N_CLASSES], -1)).sum(-1)
    count_loss = (ce * mask).sum() / mask.sum()
    scored = mask * (cut >= 0)
    weight = scored * torch.where(cut > 0, config.cut_pos_weight, 1.0)
    bce = F.binary_cross_entropy_with_logits(z[..., N_CLASSES], cut.clamp(min=0), reduction="none")
    cut_loss = (bce * weight).sum() / scored.sum().clamp(min=1)
    return count_loss + config.cut_weight * cut_loss, count_loss, cut_loss


@torch.no_grad()
def validate(net: TwoVoiceNet, data: dict[str, Any], config: TrainConfig) -> dict[str, float]:
    """Whole TUNE talks from their start (as the product runs), all in one padded batch: losses, count accuracy,
    two-voice recall and precision, cut-in precision and recall at 0.5."""
    net.eval()
    starts = np.concatenate([[0], np.cumsum(data["lengths"])[:-1]])
    steps = data["lengths"] // STEP_HOPS
    longest = int(steps.max())
    x = np.zeros((len(steps), longest * STEP_HOPS, data["features"].shape[1]), np.float32)
    soft = np.zeros((len(steps), longest, N_CLASSES), np.float32)
    cut = np.full((len(steps), longest), -1.0, np.float32)
    mask = np.zeros((len(steps), longest), np.float32)
    for i, (a, n) in enumerate(zip(starts, steps)):
        hops = int(n) * STEP_HOPS
        x[i, :hops] = data["features"][a:a + hops]
        soft[i, :n], cut[i, :n] = step_targets(data["count"][a:a + hops], data["cut_in"][a:a + hops])
        mask[i, :n] = 1.0
    x, soft, cut, mask = (torch.from_numpy(v) for v in (x, soft, cut, mask))
    z, _ = net(x)   # causal: the padding after a talk changes none of its steps
    _, count_loss, cut_loss = loss_terms(z, soft, cut, mask, config)
    net.train()
    on = mask.numpy() > 0
    pred, truth = z[..., :N_CLASSES].argmax(-1).numpy()[on], soft.argmax(-1).numpy()[on]
    said = torch.sigmoid(z[..., N_CLASSES]).numpy()[on] > 0.5
    k = cut.numpy()[on]
    tp, fp, fn = int((said & (k == 1)).sum()), int((said & (k == 0)).sum()), int((~said & (k == 1)).sum())
    return {"count_loss": float(count_loss), "cut_loss": float(cut_loss),
            "loss": float(count_loss) + config.cut_weight * float(cut_loss),
            "count_accuracy": float((pred == truth).mean()),
            "two_recall": float(((pred == 2) & (truth == 2)).sum() / max((truth == 2).sum(), 1)),
            "two_precision": float(((pred == 2) & (truth == 2)).sum() / max((pred == 2).sum(), 1)),
            "cut_precision": tp / max(tp + fp, 1), "cut_recall": tp / max(tp + fn, 1)}


def feature_stats(features: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and spread of each log-mel band over (a regular subsample of) the training hops."""
    sample = features[:: max(1, len(features) // 200_000)].astype(np.float64)
    return sample.mean(0).astype(np.float32), (sample.std(0) + 1e-3).astype(np.float32)


def train(train_data: dict[str, Any], tune_data: dict[str, Any], config: TrainConfig,
          report=lambda m: None, on_best=None) -> tuple[TwoVoiceNet, dict[str, Any]]:
    """Train from the seed; returns the model with the best validation loss and the run's log. ``on_best(net,
    update)``, if given, is called at each new best validation loss (e.g. to keep a checkpoint on disk)."""
    torch.manual_seed(config.seed)
    torch.set_num_threads(config.threads)
    torch.use_deterministic_algorithms(True)
    rng = np.random.default_rng(config.seed)
    net = TwoVoiceNet(config.conv1, config.conv2, config.hidden, config.head)
    mean, std = feature_stats(train_data["features"])
    net.feat_mean.copy_(torch.from_numpy(mean))
    net.feat_std.copy_(torch.from_numpy(std))
    opt = torch.optim.AdamW(net.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=config.updates, pct_start=0.05)
    crops = Crops(train_data, config, rng)
    history: list[dict[str, Any]] = []
    best, best_state = float("inf"), None
    t0, run = time.perf_counter(), [0.0, 0.0, 0]
    for update in range(1, config.updates + 1):
        loss, cl, kl = losses(net, crops.batch(), config)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        sched.step()
        run[0] += cl.item()
        run[1] += kl.item()
        run[2] += 1
        if update % config.validate_every == 0 or update == config.updates:
            val = validate(net, tune_data, config)
            row = {"update": update, "minutes": round((time.perf_counter() - t0) / 60, 2),
                   "train_count_loss": run[0] / run[2], "train_cut_loss": run[1] / run[2], **val}
            history.append(row)
            report(json.dumps({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()}))
            run = [0.0, 0.0, 0]
            if val["loss"] < best:
                best, best_state = val["loss"], {k: v.clone() for k, v in net.state_dict().items()}
                if on_best is not None:
                    on_best(net, update)
    assert best_state is not None
    net.load_state_dict(best_state)
    info = {"config": asdict(config), "parameters": net.parameter_count(), "history": history,
            "best_validation_loss": best, "minutes": round((time.perf_counter() - t0) / 60, 2),
            "torch": torch.__version__, "numpy": np.__version__, "machine": platform.machine(),
            "train_hours": float(train_data["lengths"].sum() / 360000), "train_talks": len(train_data["lengths"]),
            "tune_hours": float(tune_data["lengths"].sum() / 360000), "tune_talks": len(tune_data["lengths"])}
    return net, info


def export(net: TwoVoiceNet, path: Path) -> dict[str, np.ndarray]:
    """Write the weights as float16 (half the size; read back as float32) and return them as float32."""
    arrays = {k: v.astype(np.float16) for k, v in net.arrays().items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, **arrays)
    shipped = {k: v.astype(np.float32) for k, v in arrays.items()}
    net.load_state_dict({k: torch.from_numpy(v) for k, v in shipped.items()})   # the reference uses these
    return shipped


def reference_audio(seconds: float = 4.0, seed: int = 7) -> np.ndarray:
    """Generated test audio (no corpus): two harmonic voices taking turns and overlapping, over faint noise."""
    rng = np.random.default_rng(seed)
    n = int(seconds * 16000)
    t = np.arange(n) / 16000
    x = 0.002 * rng.standard_normal(n)
    for f0, a, b in ((130.0, 0.2, 2.6), (215.0, 1.8, 3.8)):
        f = f0 * (1 + 0.05 * np.sin(2 * np.pi * 3 * t))
        voice = sum(np.sin(2 * np.pi * np.cumsum(f) * h / 16000) / h for h in range(1, 12))
        syllables = 0.5 + 0.5 * np.sin(2 * np.pi * 4 * t) ** 2
        x += 0.05 * voice * syllables * ((t >= a) & (t < b))
    return np.clip(np.round(x * 32768), -32768, 32767).astype(np.int16)


@torch.no_grad()
def reference(net: TwoVoiceNet, arrays: dict[str, np.ndarray], path: Path) -> float:
    """Store generated audio and PyTorch's outputs for it (float64); returns the numpy run-time's worst error."""
    audio = reference_audio()
    x = audio.astype(np.float32) / 32768.0
    model = StreamModel(arrays)
    mel = model.features.process(x)
    hops = len(mel) // STEP_HOPS * STEP_HOPS
    net64 = TwoVoiceNet(net.conv1.out_channels, net.conv2.out_channels, net.gru.hidden_size,
                        net.head[0].out_features).double()
    net64.load_state_dict({k: v.double() for k, v in net.state_dict().items()})
    z, _ = net64(torch.from_numpy(mel[:hops].astype(np.float64))[None])
    z = z[0].numpy()
    voices = torch.softmax(torch.from_numpy(z[:, :N_CLASSES]), -1).numpy()
    cut = 1.0 / (1.0 + np.exp(-z[:, N_CLASSES]))
    path.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(path, audio=audio, mel=mel[:hops], voices=voices, cut_in=cut)
    model.reset()
    out = model.process(x)
    return float(max(np.abs(out.voices - voices).max(), np.abs(out.cut_in - cut).max()))
