"""The segmentation model in numpy: the same numbers as a plain LSTM, the shipped weights, clear errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from voicecoach.detect.segmentation import SAMPLE_RATE, SegmentationModel, weights_path
from voicecoach.errors import InputError


@pytest.fixture(scope="module")
def model() -> SegmentationModel:
    return SegmentationModel.load()


U32 = 2.0 ** -24   # float32's unit roundoff


def gamma(k: int) -> float:
    """Higham's gamma_k = k u / (1 - k u): the relative backward error of a float32 sum of k terms, any order."""
    return k * U32 / (1 - k * U32)


def _plain_bilstm(arrays: dict, x: np.ndarray, rng: np.random.Generator | None = None) -> np.ndarray:
    """PyTorch's LSTM equations, written out as in its documentation (gates i, f, g, o; float64).

    With ``rng``, every quantity is moved as far as float32 arithmetic may move it: each weight and bias by up to
    gamma_K relatively (a float32 dot product of K terms, summed in any order by any BLAS, is the exact dot product
    of weights each off by at most gamma_K: Higham, Accuracy and Stability of Numerical Algorithms, eq. 3.4), each
    sigmoid and tanh by 8 ulp, each product and sum by one rounding per operation.
    """
    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731

    def off(a: np.ndarray, rel: float) -> np.ndarray:
        return a if rng is None else a * (1.0 + rel * rng.uniform(-1.0, 1.0, np.shape(a)))

    for layer in range(4):
        outs = []
        for suffix, seq in (("", x), ("_reverse", x[::-1])):
            w_ih, w_hh = arrays[f"lstm.weight_ih_l{layer}{suffix}"], arrays[f"lstm.weight_hh_l{layer}{suffix}"]
            b = arrays[f"lstm.bias_ih_l{layer}{suffix}"] + arrays[f"lstm.bias_hh_l{layer}{suffix}"]
            g_k = gamma(w_ih.shape[1] + w_hh.shape[1] + 2)   # input and hidden terms, the bias, the gate's input sum
            w_ih, w_hh, b = off(w_ih, g_k), off(w_hh, g_k), off(b, g_k)
            h, c, out = np.zeros(128), np.zeros(128), []
            for v in seq:
                z = w_ih @ v + w_hh @ h + b
                i, f, g, o = (off(a, 8 * U32) for a in (sig(z[:128]), sig(z[128:256]), np.tanh(z[256:384]),
                                                        sig(z[384:])))
                c = off(f * c + i * g, 3 * U32)
                h = off(o * off(np.tanh(c), 8 * U32), U32)
                out.append(h)
            outs.append(np.array(out) if suffix == "" else np.array(out)[::-1])
        x = np.concatenate(outs, axis=1)
    return x


def test_the_fast_lstm_computes_what_the_plain_equations_do(model):
    with np.load(weights_path()) as z:
        arrays = {k: z[k].astype(np.float64) for k in z.files}
    x = np.random.default_rng(3).standard_normal((40, 60)).astype(np.float32)
    fast = model._bilstm(x)
    plain = _plain_bilstm(arrays, x.astype(np.float64))
    assert fast.shape == (40, 256)
    # The bound is what float32 arithmetic allows, not what one machine printed: how far the exact equations move
    # when every weight and operation is off by its float32 rounding bound (four seeded draws, the largest, doubled;
    # about 0.01-0.03, while a wrong gate order or a missing bias moves them by 0.1 or more). A machine's own error
    # is typically 50x smaller (1.7e-4 seen), as BLAS rounding errors rarely line up.
    moved = max(np.abs(_plain_bilstm(arrays, x.astype(np.float64), np.random.default_rng(s)) - plain).max()
                for s in range(4))
    assert np.abs(fast - plain).max() < 2.0 * moved


def test_a_window_gives_one_distribution_per_17_ms_step(model):
    rng = np.random.default_rng(1)
    wav = 0.05 * rng.standard_normal(4 * SAMPLE_RATE)
    probs = model.probabilities(wav)
    assert probs.shape == (234, 7)   # (64000 - 251) // 10 + 1 -> three max-pools and two 5-tap convolutions
    assert np.allclose(probs.sum(1), 1.0, atol=1e-5)
    centers = SegmentationModel.step_centers_s(len(probs))
    assert 0.02 < centers[0] < 0.04 and abs(centers[1] - centers[0] - 270 / SAMPLE_RATE) < 1e-9
    assert SegmentationModel.activity(probs).shape == (234, 3)
    # the input's scale does not matter (the model normalises it): int16-scaled audio gives the same answer
    assert np.abs(model.probabilities(wav * 32768) - probs).max() < 1e-4


def test_steady_noise_is_mostly_no_one_and_never_two_voices(model):
    rng = np.random.default_rng(2)
    probs = model.probabilities(0.001 * rng.standard_normal(4 * SAMPLE_RATE))
    assert probs[:, 0].mean() > 0.6            # class 0: no speaker (the window is normalised: noise is loud to it)
    assert probs[:, 4:].sum(1).max() < 0.2     # classes 4-6: two at once


def test_a_missing_weights_file_is_one_clear_error(tmp_path: Path):
    with pytest.raises(InputError, match=r"segmentation model .* is missing: reinstall voicecoach"):
        SegmentationModel.load(tmp_path / "nope.npz")


@pytest.mark.parametrize("content", [b"not a numpy file", b""])
def test_a_broken_weights_file_is_one_clear_error(tmp_path: Path, content: bytes):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(content)
    with pytest.raises(InputError, match=r"unreadable .*method = \"features\""):
        SegmentationModel.load(bad)


def test_weights_missing_an_array_are_one_clear_error(tmp_path: Path):
    bad = tmp_path / "partial.npz"
    with np.load(weights_path()) as z:
        np.savez(bad, **{k: z[k] for k in z.files if not k.startswith("classifier")})
    with pytest.raises(InputError, match="unreadable"):
        SegmentationModel.load(bad)


def test_filtering_then_normalising_is_normalising_then_filtering(model):
    # the window is normalised after SincNet's first (linear) filters, so a sliding window can reuse their rows; the
    # bound is float32's for both sides' dot products of 251 taps, plus the scale, the shift and the mean's rounding
    rng = np.random.default_rng(5)
    wav = (3000 * rng.standard_normal(SAMPLE_RATE) + 200).astype(np.float32)   # int16-scaled, with a DC offset
    w64 = wav.astype(np.float64)
    x = (w64 - w64.mean()) / np.sqrt(w64.var() + 1e-5) * model._in_w + model._in_b
    n = (len(x) - 251) // 10 + 1
    taps = np.lib.stride_tricks.as_strided(x, (n, 251), (x.strides[0] * 10, x.strides[0]))
    filters = model._filters.astype(np.float64)
    want = taps @ filters
    scale = model._in_w / np.sqrt(w64.var())
    got = model.filter_outputs(wav).astype(np.float64) * scale + (model._in_b - w64.mean() * scale) * filters.sum(0)
    raw = np.abs(np.lib.stride_tricks.as_strided(w64, (n, 251), (w64.strides[0] * 10, w64.strides[0]))) @ np.abs(filters)
    bound = 4 * gamma(260) * (raw * scale + (abs(model._in_b) + abs(w64.mean()) * scale) * np.abs(filters).sum(0))
    assert np.all(np.abs(got - want) <= bound)


def test_pooling_the_raw_rows_then_normalising_is_bit_for_bit_normalising_then_pooling(model):
    # the scale and shift are monotonic in floating point, so the pool of |scaled row| is the larger |scaled extreme|
    rng = np.random.default_rng(7)
    for wav in ((3000 * rng.standard_normal(SAMPLE_RATE) + 200).astype(np.float32),
                np.full(SAMPLE_RATE, 7.0, np.float32), np.zeros(SAMPLE_RATE, np.float32)):
        rows = model.filter_outputs(wav)
        for scale, shift in ((np.float32(0.013), np.float32(-0.2)), (np.float32(-0.013), np.float32(0.5))):
            y = rows * scale
            y += shift * model._filter_sums
            n = len(y) // 3
            want = np.abs(y)[: n * 3].reshape(n, 3, -1).max(1)
            ext = model.pooled_extremes(rows) * scale
            ext += shift * model._filter_sums
            assert np.array_equal(np.abs(ext).max(0), want)


def test_a_sliding_window_reuses_the_filters_rows_and_gets_the_same_answer(model):
    from voicecoach.detect.segmentation import SlidingFilters

    rng = np.random.default_rng(6)
    stream = (3000 * rng.standard_normal(7 * SAMPLE_RATE)).astype(np.float32)
    size = 4 * SAMPLE_RATE
    sliding = SlidingFilters()
    computed: list[int] = []
    filtered: list[int] = []
    model_filter = model.filter_outputs
    try:   # count the samples filtered afresh
        model.filter_outputs = lambda wav: computed.append(len(wav)) or model_filter(wav)  # type: ignore[method-assign]
        for start in (0, 480, 480, 9600, 9605, 3 * SAMPLE_RATE):   # steps of 30 ms, none, 600 ms, odd, whole
            wav = stream[start:start + size]
            before = len(computed)
            rows = sliding.rows(model, wav, start)
            filtered.append(sum(computed[before:]))
            fresh = model_filter(wav)
            pooled = model.pooled_extremes(fresh)
            assert rows.shape == pooled.shape == (2, len(fresh) // 3, fresh.shape[1])
            # each row is one float32 dot product of 251 taps either way; a pool's extreme moves no more than its rows
            taps = np.lib.stride_tricks.as_strided(wav, (len(fresh), 251), (wav.strides[0] * 10, wav.strides[0]))
            bound = 2 * gamma(251) * (np.abs(taps.astype(np.float64)) @ np.abs(model._filters.astype(np.float64)))
            bound = bound[: len(bound) // 3 * 3].reshape(-1, 3, bound.shape[1]).max(1)
            assert np.all(np.abs(rows - pooled) <= bound)
            probs = model.probabilities(wav, rows)
            assert np.abs(probs - model.probabilities(wav)).max() < 1e-4
    finally:
        del model.filter_outputs
    # the first window is filtered whole, a 30 ms step filters 30 ms, the same window nothing, 600 ms filters 600 ms
    # (each with the filters' 250-sample tail), an odd step and a step past the last window the whole window again
    assert filtered == [size, 480 + 250, 0, 9120 + 250, size, size]
