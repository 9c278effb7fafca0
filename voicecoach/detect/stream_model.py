"""A small streaming two-voice model of our own: every 30 ms, how many voices speak and whether one is cutting in.

Log-mel features every 10 ms (a 32 ms Hann window, 64 bands) -> a causal convolution over the last three hops ->
a convolution over each 30 ms step's three hops -> a GRU -> a small head with two outputs: the number of voices
speaking (0, 1 or 2, a softmax) and "a second voice has cut in on the first and goes on" (a sigmoid). It sees
no future at all: a step's outputs depend only on the audio up to its end.

Trained with PyTorch by ``scripts/train-overlap`` on talks mixed from the corpus (see ``docs/overlap-model.md``)
and run here in plain numpy from the weights shipped in ``data/``: one file per interruption method that uses the
model (:data:`WEIGHTS`: the gate's and a retrain for the model alone). The state (the last samples,
the last feature hops, the GRU's hidden vector) is carried from call to call, so a stream cut into blocks of any
size gives the same outputs as the whole file at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .equaliser import SpectrumEqualiser
from .weights import load_model

SAMPLE_RATE = 16000
HOP = 160                   # 10 ms feature hops
WINDOW = 512                # 32 ms Hann window (periodic), one FFT of the same length
N_MEL = 64
MEL_LO_HZ, MEL_HI_HZ = 50.0, 7800.0
LOG_FLOOR = 1e-10           # added to the mel power: below int16 rounding noise
STEP_HOPS = 3               # one model step is 30 ms
STEP_SAMPLES = HOP * STEP_HOPS
CONTEXT_HOPS = 2            # the first convolution's look back (it spans three hops)
N_CLASSES = 3               # 0, 1 or 2 voices


# The one place that says which shipped weights each interruption method runs the model with. Same network, two
# trainings (docs/overlap-model.md): "gated" keeps the first one (1000 TRAIN talks), under which the gate was chosen
# and measured; "stream" uses a retrain on twice the talks and more background kinds, better alone on held-out
# talks (EVAL draws 1-3) but worse as the gate (TUNE draw 1).
WEIGHTS = {"gated": "stream-overlap.npz", "stream": "stream-alone.npz"}


def weights_path(method: str = "gated") -> Path:
    """Where the shipped weights of interruption method ``method`` ("gated" or "stream") are."""
    return Path(str(resources.files("voicecoach.detect") / "data" / WEIGHTS[method]))


def mel_filters(n_fft: int = WINDOW, n_mel: int = N_MEL) -> NDArray[np.float32]:
    """Triangular filters evenly spaced in mel from MEL_LO_HZ to MEL_HI_HZ, as (n_fft // 2 + 1, n_mel)."""
    to_mel = lambda hz: 2595.0 * np.log10(1.0 + np.asarray(hz) / 700.0)  # noqa: E731
    edges = 700.0 * (10.0 ** (np.linspace(to_mel(MEL_LO_HZ), to_mel(MEL_HI_HZ), n_mel + 2) / 2595.0) - 1.0)
    freqs = np.arange(n_fft // 2 + 1) * SAMPLE_RATE / n_fft
    bands = [np.interp(freqs, edges[i:i + 3], [0.0, 1.0, 0.0], left=0.0, right=0.0) for i in range(n_mel)]
    return np.ascontiguousarray(np.array(bands).T, dtype=np.float32)


class LogMel:
    """Streaming log-mel features: one row per 10 ms hop, computed on the 32 ms that end with the hop.

    Hop ``k`` covers samples up to ``(k + 1) * HOP``; before the stream began there was silence (zeros).
    """

    def __init__(self) -> None:
        n = np.arange(WINDOW)
        self._window = 0.5 - 0.5 * np.cos(2.0 * np.pi * n / WINDOW)
        # power normalised by the window's energy: white noise of variance v gives about v in every bin; each
        # filter row twice, for the real and the imaginary part, so one product sums re^2 + im^2 into the bands
        filters = mel_filters().astype(np.float64) / np.sum(self._window ** 2)
        self._filters = np.ascontiguousarray(np.repeat(filters, 2, axis=0))
        self.reset()

    def reset(self) -> None:
        """Back to silence."""
        self._buf = np.zeros(WINDOW - HOP, np.float32)

    def process(self, samples: NDArray[np.floating]) -> NDArray[np.float32]:
        """Audio in [-1, 1] (any length) -> (hops completed, N_MEL) log mel power."""
        x = np.concatenate([self._buf, np.asarray(samples, np.float32)])
        n = (len(x) - WINDOW) // HOP + 1 if len(x) >= WINDOW else 0
        self._buf = x[n * HOP:]
        if n <= 0:
            return np.empty((0, N_MEL), np.float32)
        # in float64: a float32 FFT errs by about 1e-7 of the frame's loudest bin, which would swamp quiet bands
        frames = np.ndarray((n, WINDOW), np.float32, x, 0, (x.strides[0] * HOP, x.strides[0])) * self._window
        parts = np.fft.rfft(frames, axis=1).view(np.float64)   # (re, im) pairs
        parts *= parts
        return np.log(parts @ self._filters + LOG_FLOOR).astype(np.float32)


@dataclass(frozen=True)
class StreamOutputs:
    """The model's outputs for consecutive 30 ms steps: ``voices`` (steps, 3) probabilities of 0, 1, 2 voices,
    ``cut_in`` (steps,) probability that a second voice has cut in on the first and goes on, and the audio time
    at the end of each step (seconds)."""

    voices: NDArray[np.float32]
    cut_in: NDArray[np.float32]
    end_s: NDArray[np.float64]


def _sigmoid_by_tanh(x: NDArray[np.floating]) -> NDArray[np.floating]:
    half = x.dtype.type(0.5)
    return half + half * np.tanh(half * x)


class StreamModel:
    """The numpy run-time of the two-voice model; :meth:`process` takes audio and returns each completed step."""

    def __init__(self, arrays: dict[str, NDArray], dtype: type = np.float32) -> None:
        p = {k: np.asarray(v, dtype) for k, v in arrays.items()}
        self.dtype = dtype
        mean, std = p["feat_mean"], p["feat_std"]
        w1 = p["conv1.weight"]                                 # (C1, N_MEL, 3): PyTorch's Conv1d layout
        w1 = w1 / std[None, :, None]                           # the input normalisation folded into the weights
        self._b1 = (p["conv1.bias"] - np.einsum("cmk,m->c", w1, mean)).astype(dtype)
        self._w1 = np.ascontiguousarray(w1.transpose(2, 1, 0).reshape(-1, w1.shape[0]))   # rows: (hop, band)
        w2 = p["conv2.weight"]                                 # (C2, C1, 3), stride 3
        self._w2 = np.ascontiguousarray(w2.transpose(2, 1, 0).reshape(-1, w2.shape[0]))
        self._b2 = p["conv2.bias"]
        self.hidden = p["gru.weight_hh_l0"].shape[1]
        h = self.hidden
        # r and z are halved so that one tanh gives both sigmoids (sigmoid(x) = 0.5 + 0.5 tanh(x / 2))
        scale = np.r_[np.full(2 * h, 0.5), np.ones(h)].astype(dtype)
        self._w_ih = np.ascontiguousarray(p["gru.weight_ih_l0"].T * scale)
        b_hh = p["gru.bias_hh_l0"]
        self._b_i = ((p["gru.bias_ih_l0"] + np.r_[b_hh[:2 * h], np.zeros(h, dtype)]) * scale).astype(dtype)
        self._w_hh = np.ascontiguousarray(p["gru.weight_hh_l0"].T * scale)
        self._b_hn = b_hh[2 * h:]
        self._wa, self._ba = np.ascontiguousarray(p["head.0.weight"].T), p["head.0.bias"]
        self._wo, self._bo = np.ascontiguousarray(p["head.2.weight"].T), p["head.2.bias"]
        self._silence = np.full((1, N_MEL), np.log(np.float32(LOG_FLOOR)), dtype)
        self.features = LogMel()
        self.equaliser: SpectrumEqualiser | None = None   # set to equalise the input (``equaliser.py``)
        self.reset()

    @classmethod
    def load(cls, path: Path | None = None, method: str = "gated") -> StreamModel:
        """Load the weights (by default the ones shipped for interruption method ``method``); a missing or broken
        file is an :class:`InputError`."""
        return load_model(cls, path or weights_path(method), "stream model")

    def reset(self) -> None:
        """Back to the start of a stream (silence before it)."""
        self.features.reset()
        if self.equaliser is not None:
            self.equaliser.reset()
        self._context = np.repeat(self._silence, CONTEXT_HOPS, axis=0)   # the last hops the first conv sees
        self._pending = np.empty((0, self._w1.shape[1]), self.dtype)    # conv1 outputs of an unfinished step
        self._h = np.zeros(self.hidden, self.dtype)
        self.samples_seen = 0
        self.steps = 0

    def process(self, samples: NDArray[np.floating]) -> StreamOutputs:
        """Audio in [-1, 1] -> the outputs of every 30 ms step it completes (possibly none)."""
        self.samples_seen += len(samples)
        mel = self.features.process(samples).astype(self.dtype, copy=False)
        if self.equaliser is not None and len(mel):
            mel = self.equaliser.process(mel).astype(self.dtype, copy=False)
        if len(mel):
            x = np.concatenate([self._context, mel])
            self._context = x[-CONTEXT_HOPS:]
            taps = np.concatenate([x[k:k + len(mel)] for k in range(CONTEXT_HOPS + 1)], axis=1)   # (hop, band)
            y1 = np.maximum(taps @ self._w1 + self._b1, 0.0)
            y1 = np.concatenate([self._pending, y1]) if len(self._pending) else y1
        else:
            y1 = self._pending
        n = len(y1) // STEP_HOPS
        self._pending = y1[n * STEP_HOPS:]
        end_s = (self.steps + 1 + np.arange(n)) * (STEP_SAMPLES / SAMPLE_RATE)
        if n == 0:
            return StreamOutputs(np.empty((0, N_CLASSES), self.dtype), np.empty(0, self.dtype), end_s)
        y2 = np.maximum(y1[:n * STEP_HOPS].reshape(n, -1) @ self._w2 + self._b2, 0.0)
        states = self._gru(y2 @ self._w_ih + self._b_i)
        self.steps += n
        z = np.maximum(states @ self._wa + self._ba, 0.0) @ self._wo + self._bo
        logits = z[:, :N_CLASSES]
        e = np.exp(logits - logits.max(1, keepdims=True))
        return StreamOutputs(e / e.sum(1, keepdims=True), _sigmoid_by_tanh(z[:, N_CLASSES]), end_s)

    def _gru(self, gates_in: NDArray[np.float32]) -> NDArray[np.float32]:
        """PyTorch's GRU over the steps, from the carried hidden vector; returns every step's hidden vector."""
        hid = self.hidden
        out = np.empty((len(gates_in), hid), self.dtype)
        h = self._h
        for t in range(len(gates_in)):   # the loop is the recurrent cost: as few array operations as possible
            gh = h @ self._w_hh
            rz = np.tanh(gates_in[t, :2 * hid] + gh[:2 * hid])
            rz += 1.0
            rz *= 0.5                                   # r and z
            n = np.tanh(gates_in[t, 2 * hid:] + rz[:hid] * (gh[2 * hid:] + self._b_hn))
            h = n + rz[hid:] * (h - n)
            out[t] = h
        self._h = h
        return out
