"""Speaker segmentation on a short window: who speaks in each 17 ms step, and when two speak at once.

This is pyannote's segmentation-3.0 model (PyanNet: a SincNet front end, a 4-layer bidirectional LSTM and a
powerset classifier over up to three local speakers, two at once), run in plain numpy from weights shipped with
the package (``data/segmentation-3.0.npz``, MIT licence beside it). It was trained on real meetings and
conversations, so it hears "two voices now" far better than per-frame pitch and timbre contrasts can: on one
microphone the holder's voice dominates an overlap, and only a learned model separates the two reliably.

The speakers are local to one window: speaker 0 in one window need not be speaker 0 in the next. The
interruption detector (``overlap.py``) only asks questions that are answered within one window.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from .weights import load_model

SAMPLE_RATE = 16000
STEP_SAMPLES = 270          # one output step: 10 (SincNet stride) x 3 x 3 x 3 (three max-pools)
FIELD_SAMPLES = 991         # receptive field of one step
TAPS, STRIDE = 251, 10      # SincNet's first filters: taps, and samples between two of their outputs
N_SPEAKERS = 3
# powerset classes -> which local speakers are active: {}, {0}, {1}, {2}, {0,1}, {0,2}, {1,2}
MEMBERSHIP = np.array([[0, 0, 0], [1, 0, 0], [0, 1, 0], [0, 0, 1], [1, 1, 0], [1, 0, 1], [0, 1, 1]], np.float32)
MIN_LOW_HZ, MIN_BAND_HZ = 50.0, 50.0
HIDDEN = 128


def weights_path() -> Path:
    """Where the shipped weights are."""
    return Path(str(resources.files("voicecoach.detect") / "data" / "segmentation-3.0.npz"))


def _leaky(x: NDArray[np.float32]) -> NDArray[np.float32]:
    return np.maximum(x, np.float32(0.01) * x)


def _instance_norm(x: NDArray[np.float32], w: NDArray[np.float32], b: NDArray[np.float32]) -> NDArray[np.float32]:
    """Normalise each channel (column) over the window's steps, then scale and shift."""
    return (x - x.mean(0)) * (w / np.sqrt(x.var(0) + 1e-5)) + b


def _pool3(x: NDArray[np.float32]) -> NDArray[np.float32]:
    n = x.shape[0] // 3
    return x[: n * 3].reshape(n, 3, x.shape[1]).max(1)


def _taps(y: NDArray[np.float32], k: int) -> NDArray[np.float32]:
    """The inputs of a ``k``-tap convolution over the rows of ``y`` (steps, channels), as one contiguous matrix
    (steps - k + 1, channels * k) whose columns run channel by channel, tap by tap: ``y[i + tap, channel]`` at
    ``[i, channel * k + tap]``. Filled by ``k`` slice copies, a third of the time numpy takes to copy the same
    strided view (the values and their order are the same, so is the product)."""
    t, channels = y.shape[0] - k + 1, y.shape[1]
    out = np.empty((t, channels, k), y.dtype)
    for tap in range(k):
        out[:, :, tap] = y[tap:tap + t]
    return out.reshape(t, channels * k)


def sinc_filters(low_hz: NDArray, band_hz: NDArray, n: NDArray, window: NDArray) -> NDArray[np.float32]:
    """SincNet's 80 band-pass filters (40 cosine, 40 sine) of 251 taps, as (251, 80) for a matrix product."""
    low = MIN_LOW_HZ + np.abs(low_hz.astype(np.float64))
    high = np.clip(low + MIN_BAND_HZ + np.abs(band_hz.astype(np.float64)), MIN_LOW_HZ, SAMPLE_RATE / 2)
    n, window = n.astype(np.float64), window.astype(np.float64)
    band = (high - low)[:, 0]
    ft_low, ft_high = low @ n, high @ n
    cos_left = (np.sin(ft_high) - np.sin(ft_low)) / (n / 2) * window
    sin_left = (np.cos(ft_low) - np.cos(ft_high)) / (n / 2) * window
    cos = np.concatenate([cos_left, 2 * band[:, None], cos_left[:, ::-1]], axis=1)
    sin = np.concatenate([sin_left, np.zeros((len(band), 1)), -sin_left[:, ::-1]], axis=1)
    filters = np.concatenate([cos, sin]) / (2 * np.concatenate([band, band])[:, None])
    return np.ascontiguousarray(filters.T, dtype=np.float32)


class SegmentationModel:
    """The segmentation model; :meth:`probabilities` runs it on one window of 16 kHz audio."""

    def __init__(self, arrays: dict[str, NDArray]) -> None:
        p = {k: np.asarray(v, np.float32) for k, v in arrays.items()}
        self._in_w, self._in_b = float(p["sincnet.wav_norm1d.weight"][0]), float(p["sincnet.wav_norm1d.bias"][0])
        fb = "sincnet.conv1d.0.filterbank."
        self._filters = sinc_filters(p[fb + "low_hz_"], p[fb + "band_hz_"], p[fb + "n_"], p[fb + "window_"])
        self._filter_sums = self._filters.sum(0)   # each filter's response to a constant
        self.filter_width = self._filters.shape[1]   # outputs of the first filters per row (80)
        self._norms = [(p[f"sincnet.norm1d.{i}.weight"], p[f"sincnet.norm1d.{i}.bias"]) for i in range(3)]
        self._convs = [(np.ascontiguousarray(p[f"sincnet.conv1d.{i}.weight"].reshape(60, -1).T),
                        p[f"sincnet.conv1d.{i}.bias"]) for i in (1, 2)]
        # gates reordered from PyTorch's (i, f, g, o) to blocks (g, f, i, o), and i, f, o halved: sigmoid(x) is
        # 0.5 + 0.5 tanh(x / 2), so one tanh over all four gates does the whole step
        blocks = [np.arange(k * HIDDEN, (k + 1) * HIDDEN) for k in (2, 1, 0, 3)]
        perm = np.concatenate(blocks)
        half = np.r_[np.ones(HIDDEN), np.full(3 * HIDDEN, 0.5)].astype(np.float32)
        self._lstm = []
        for layer in range(4):
            names = [f"l{layer}", f"l{layer}_reverse"]
            w_in = np.ascontiguousarray(np.stack([p[f"lstm.weight_ih_{n}"].T[:, perm] * half for n in names]))
            # halved once more: the loop carries 2h (see _bilstm); one (hidden x hidden) matrix per gate block and
            # direction, so that the step's product lands gate-block-major (see _bilstm)
            w_h = np.stack([p[f"lstm.weight_hh_{n}"].T[:, perm] * half * 0.5 for n in names])
            w_h = np.ascontiguousarray(w_h.reshape(2, HIDDEN, 4, HIDDEN).transpose(2, 0, 1, 3))
            b = np.stack([(p[f"lstm.bias_ih_{n}"] + p[f"lstm.bias_hh_{n}"])[perm] * half for n in names])
            self._lstm.append((w_in, w_h, b))
        self._linear = [(np.ascontiguousarray(p[f"linear.{i}.weight"].T), p[f"linear.{i}.bias"]) for i in (0, 1)]
        self._out = (np.ascontiguousarray(p["classifier.weight"].T), p["classifier.bias"])

    @classmethod
    def load(cls, path: Path | None = None) -> SegmentationModel:
        """Load the weights (the shipped ones by default); a missing or broken file is an :class:`InputError`."""
        return load_model(cls, path or weights_path(), "segmentation model")

    def filter_outputs(self, wav: NDArray[np.float32]) -> NDArray[np.float32]:
        """SincNet's first filters over the raw audio, before the window is normalised: (steps of STRIDE, 80).

        Each row depends on TAPS samples only, so a window sliding over a stream can reuse the rows it shares with
        the last one (:class:`SlidingFilters`); the window's normalisation is applied to the rows afterwards."""
        n = (len(wav) - TAPS) // STRIDE + 1
        taps = np.lib.stride_tricks.as_strided(wav, (n, TAPS), (wav.strides[0] * STRIDE, wav.strides[0]))
        return taps @ self._filters

    @staticmethod
    def pooled_extremes(rows: NDArray[np.float32]) -> NDArray[np.float32]:
        """The largest and smallest of each three filter rows (SincNet's first max-pool), as (2, rows // 3, 80).

        The window's normalisation is a scale and a shift of every row, and both are monotonic in floating point
        too, so the pool of ``|scaled row|`` is the larger ``|scaled extreme|``: bit for bit what pooling the
        normalised rows gives, on a third of the rows (and a sliding window reuses these as it reuses the rows)."""
        n = rows.shape[0] // 3
        groups = rows[: n * 3].reshape(n, 3, rows.shape[1])
        out = np.empty((2, n, rows.shape[1]), np.float32)
        np.max(groups, axis=1, out=out[0])
        np.min(groups, axis=1, out=out[1])
        return out

    def _sincnet(self, wav: NDArray[np.float32], pooled: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
        # the filters are linear: filtering (wav - mean) / std * w + b is filtering wav, then scaling and shifting
        scale = np.float32(self._in_w) / np.sqrt(wav.var() + np.float32(1e-5))
        shift = np.float32(self._in_b) - wav.mean() * scale
        if pooled is None:
            pooled = self.pooled_extremes(self.filter_outputs(wav))
        y = pooled * scale
        y += shift * self._filter_sums
        y = np.abs(y, out=y).max(0)
        y = _leaky(_instance_norm(y, *self._norms[0]))
        for (w, b), norm in zip(self._convs, self._norms[1:]):
            y = _leaky(_instance_norm(_pool3(_taps(y, 5) @ w + b), *norm))
        return np.ascontiguousarray(y, dtype=np.float32)

    def _bilstm(self, x: NDArray[np.float32]) -> NDArray[np.float32]:
        """The 4-layer bidirectional LSTM, both directions in one loop over the steps.

        The loop is the model's cost, so each step is a few in-place operations on preallocated arrays, each on one
        contiguous stretch of memory (numpy is several times slower on strided views of so few numbers): the state
        is laid out gate block by gate block, both directions side by side in each: ``c``, ``g``, ``f``, ``i``, ``o``.
        It carries twice the hidden state (``2h``, with the recurrent weights halved) and twice the sigmoids
        (``1 + tanh``): scaling by two is exact in floating point, so this computes bit for bit what the plain form
        does. The ufuncs are bound to locals and given ``out`` by position (numpy parses a keyword for each call):
        4.6 % fewer instructions a look. Measured and not taken: one (hidden x 4 hidden) product per direction,
        with each direction's state in one row, runs 2 BLAS calls a step instead of 8 but makes every elementwise
        operation a strided 2-D one (numpy's general iterator), +17 to +20 % instructions.
        """
        steps, hid = x.shape[0], HIDDEN
        state = np.zeros((5, 2, 1, hid), np.float32)     # blocks c, g, f, i, o; each (direction, 1, hidden)
        c, gates, sig, o = state[0], state[1:], state[2:], state[4]
        f_i, c_g = state[2:4], state[:2]
        prod = np.empty((2, 2, 1, hid), np.float32)
        prod_c, prod_g = prod[0], prod[1]
        one, half = np.ones((3, 2, 1, hid), np.float32), np.full((2, 1, hid), 0.5, np.float32)
        # bound once, out given by position: the loop runs ~1000 times a look, and numpy parses a keyword slower
        matmul, add, multiply, tanh = np.matmul, np.add, np.multiply, np.tanh
        for w_in, w_h, b in self._lstm:
            inputs = np.empty((steps, 4, 2, 1, hid), np.float32)   # both directions' input terms per step
            inputs[:, :, 0, 0] = (x @ w_in[0] + b[0]).reshape(steps, 4, hid)
            inputs[::-1, :, 1, 0] = (x @ w_in[1] + b[1]).reshape(steps, 4, hid)   # backward runs from the end
            out = np.empty((steps, 2, 1, hid), np.float32)          # 2h of every step
            h2 = np.zeros((2, 1, hid), np.float32)
            c[:] = 0.0
            for step_in, h_out in zip(inputs, out):
                matmul(h2, w_h, gates)          # (2, 1, h) @ (4, 2, h, h): every block of both directions
                add(gates, step_in, gates)
                tanh(gates, gates)
                add(sig, one, sig)              # 2 sigmoid(x) = 1 + tanh(x / 2) for f, i and o
                multiply(f_i, c_g, prod)        # (2 sigmoid(f) c, 2 sigmoid(i) g)
                add(prod_c, prod_g, c)
                multiply(c, half, c)            # c = sigmoid(f) c + sigmoid(i) g
                tanh(c, h_out)
                multiply(h_out, o, h_out)       # 2h = 2 sigmoid(o) tanh(c)
                h2 = h_out
            x = np.concatenate([out[:, 0, 0], out[::-1, 1, 0]], axis=1)
            x *= 0.5
        return x

    def probabilities(self, wav: NDArray[np.floating],
                      pooled: NDArray[np.float32] | None = None) -> NDArray[np.float32]:
        """Powerset class probabilities (steps, 7) for one window of 16 kHz mono audio (any scale).

        ``pooled``: :meth:`pooled_extremes` of this very window's :meth:`filter_outputs`, when the caller has them
        already (:class:`SlidingFilters`)."""
        wav = np.ascontiguousarray(wav, dtype=np.float32)
        if len(wav) < FIELD_SAMPLES * 3:
            raise ValueError("window too short for the segmentation model")
        x = self._bilstm(self._sincnet(wav, pooled))
        for w, b in self._linear:
            x = _leaky(x @ w + b)
        z = x @ self._out[0] + self._out[1]
        e = np.exp(z - z.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    @staticmethod
    def activity(probs: NDArray[np.float32]) -> NDArray[np.float32]:
        """Probability that each local speaker is active, (steps, 3)."""
        return probs @ MEMBERSHIP

    @staticmethod
    def step_centers_s(n_steps: int) -> NDArray[np.float64]:
        """Centre of each output step from the window's start, seconds."""
        return (FIELD_SAMPLES / 2 + STEP_SAMPLES * np.arange(n_steps)) / SAMPLE_RATE


class SlidingFilters:
    """:meth:`SegmentationModel.pooled_extremes` of the filter rows of a window that slides over one stream, reusing
    what the last window shared: a third of a look's arithmetic is these filters, and consecutive looks share most
    of their audio. A step of a multiple of 30 ms (three rows) keeps the pool's groups; any other step starts afresh.

    The pooled rows live in two buffers allocated once and used in turn, so a long session does not keep allocating
    a window's rows next to the last ones: that let the process's memory creep up by megabytes in the soak test.
    The rows returned stay valid until the next call but one.
    """

    GROUP = 3 * STRIDE   # samples per pooled row

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        """Forget the last window (call it when the stream starts again)."""
        self._start = 0
        self._rows: NDArray[np.float32] | None = None
        self._model: SegmentationModel | None = None
        self._buffers: NDArray[np.float32] | None = None
        self._turn = 0

    def rows(self, model: SegmentationModel, wav: NDArray[np.float32], start: int) -> NDArray[np.float32]:
        """``model``'s pooled filter rows for ``wav``, the stream's samples from ``start`` (counted since the reset)
        on: what :meth:`SegmentationModel.probabilities` takes as ``pooled``."""
        n = ((len(wav) - TAPS) // STRIDE + 1) // 3
        shift = start - self._start
        last = self._rows
        if shift == 0 and last is not None and model is self._model and last.shape[1] == n:
            return last
        width = model.filter_width
        if self._buffers is None or self._buffers.shape[1:] != (2, n, width):
            self._buffers, last = np.empty((2, 2, n, width), np.float32), None
        rows = self._buffers[self._turn]
        self._turn ^= 1
        if last is None or model is not self._model or shift < 0 or shift % self.GROUP or shift // self.GROUP >= n:
            rows[:] = model.pooled_extremes(model.filter_outputs(wav))
        else:
            kept = n - shift // self.GROUP
            rows[:, :kept] = last[:, n - kept:]
            rows[:, kept:] = model.pooled_extremes(model.filter_outputs(wav[kept * self.GROUP:]))[:, :n - kept]
        self._start, self._rows, self._model = start, rows, model
        return rows
