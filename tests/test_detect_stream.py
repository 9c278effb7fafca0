"""The streaming two-voice model in numpy: PyTorch's numbers within float32's rounding, any split of the stream.

Every shipped weights file (one per method that runs the model: ``stream_model.WEIGHTS``) has its own stored
reference, ``tests/data/<weights file>-reference.npz``, written by ``scripts/train-overlap`` with the weights."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from voicecoach.detect.stream_model import (CONTEXT_HOPS, LOG_FLOOR, N_MEL, STEP_HOPS, WEIGHTS, LogMel,
                                            StreamModel, mel_filters, weights_path)
from voicecoach.detect.pipeline import Pipeline
from voicecoach.detect.settings import DetectionSettings, InterruptionSettings
from voicecoach.errors import InputError

DATA = Path(__file__).parent / "data"
U32 = 2.0 ** -24   # float32's unit roundoff


def gamma(k: int) -> float:
    """Higham's gamma_k = k u / (1 - k u): the relative backward error of a float32 sum of k terms, any order."""
    return k * U32 / (1 - k * U32)


def reference_path(method: str) -> Path:
    """The stored PyTorch reference of the weights shipped for ``method``."""
    return DATA / f"{Path(WEIGHTS[method]).stem}-reference.npz"


@pytest.fixture(scope="module", params=sorted(WEIGHTS))
def method(request) -> str:
    return request.param


@pytest.fixture(scope="module")
def arrays(method) -> dict[str, np.ndarray]:
    with np.load(weights_path(method)) as z:
        return {k: z[k].astype(np.float64) for k in z.files}


@pytest.fixture(scope="module")
def reference(method) -> dict[str, np.ndarray]:
    with np.load(reference_path(method)) as z:
        return {k: z[k] for k in z.files}


def plain_model(a: dict[str, np.ndarray], audio: np.ndarray, rng: np.random.Generator | None = None,
                mel: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The model's equations as PyTorch defines its layers, in float64: (P(0/1/2 voices), P(cut-in)) per step.

    ``mel``: the features PyTorch was given (else computed from ``audio`` as the run-time does).

    With ``rng``, every quantity is moved as far as float32 arithmetic may move it: each weight by up to gamma_K
    relatively for its layer's K-term sums (a float32 dot product summed in any order, by any BLAS, is the exact
    dot product of weights each off by at most gamma_K: Higham, Accuracy and Stability of Numerical Algorithms,
    eq. 3.4; two more terms for the bias and the folded input normalisation), each feature by its float32
    rounding, each tanh, sigmoid and exp by 8 ulp and each elementwise product or sum by one rounding.
    """
    def off(x: np.ndarray, rel: float) -> np.ndarray:
        return x if rng is None else x * (1.0 + rel * rng.uniform(-1.0, 1.0, np.shape(x)))

    def weight(name: str, k: int) -> np.ndarray:
        return off(a[name], gamma(k + 2))

    sig = lambda v: 1.0 / (1.0 + np.exp(-v))  # noqa: E731
    if mel is None:
        mel = LogMel().process(audio.astype(np.float32) / 32768.0)
    mel = off(mel.astype(np.float64), 2 * U32)
    hops = len(mel) // STEP_HOPS * STEP_HOPS
    x = np.concatenate([np.full((CONTEXT_HOPS, N_MEL), np.log(np.float32(LOG_FLOOR)), np.float64), mel[:hops]])
    x = (x - a["feat_mean"]) / a["feat_std"]
    taps = np.stack([x[k:k + hops] for k in range(CONTEXT_HOPS + 1)], axis=2)            # (hop, band, tap)
    w1 = weight("conv1.weight", N_MEL * (CONTEXT_HOPS + 1))
    y1 = np.maximum(np.einsum("tmk,cmk->tc", taps, w1) + a["conv1.bias"], 0.0)
    steps = hops // STEP_HOPS
    groups = y1.reshape(steps, STEP_HOPS, -1).transpose(0, 2, 1)                           # (step, channel, tap)
    w2 = weight("conv2.weight", y1.shape[1] * STEP_HOPS)
    y2 = np.maximum(np.einsum("sck,dck->sd", groups, w2) + a["conv2.bias"], 0.0)
    hid = a["gru.weight_hh_l0"].shape[1]
    k_gate = y2.shape[1] + hid + 1
    w_ih, w_hh = weight("gru.weight_ih_l0", k_gate), weight("gru.weight_hh_l0", k_gate)
    b_ih, b_hh = a["gru.bias_ih_l0"], a["gru.bias_hh_l0"]
    h, states = np.zeros(hid), []
    for v in y2:
        gi, gh = w_ih @ v + b_ih, w_hh @ h + b_hh
        r = off(sig(gi[:hid] + gh[:hid]), 8 * U32)
        z = off(sig(gi[hid:2 * hid] + gh[hid:2 * hid]), 8 * U32)
        n = off(np.tanh(gi[2 * hid:] + off(r * gh[2 * hid:], U32)), 8 * U32)
        h = off(n + off(z * off(h - n, U32), U32), U32)
        states.append(h)
    s = np.array(states)
    hidden = np.maximum(s @ weight("head.0.weight", hid).T + a["head.0.bias"], 0.0)
    out = hidden @ weight("head.2.weight", hidden.shape[1]).T + a["head.2.bias"]
    e = off(np.exp(out[:, :3] - out[:, :3].max(1, keepdims=True)), 8 * U32)
    return off(e / e.sum(1, keepdims=True), 2 * U32), off(sig(out[:, 3]), 8 * U32)


@pytest.fixture(scope="module")
def float32_bound(arrays, reference) -> float:
    """How far float32 arithmetic may move the outputs: the largest move of the equations over four seeded draws
    of rounding-sized perturbations, doubled (a first-order, machine-independent estimate)."""
    voices, cut = plain_model(arrays, reference["audio"])
    moved = 0.0
    for seed in range(4):
        v, c = plain_model(arrays, reference["audio"], np.random.default_rng(seed))
        moved = max(moved, float(np.abs(v - voices).max()), float(np.abs(c - cut).max()))
    return 2.0 * moved


def test_the_plain_equations_give_pytorchs_float64_outputs(arrays, reference, float32_bound):
    voices, cut = plain_model(arrays, reference["audio"], mel=reference["mel"])
    assert voices.shape == reference["voices"].shape
    # both in float64: what moves float32's results by float32_bound moves these by 2^29 times less
    bound64 = float32_bound * 2.0 ** -29 * 10
    assert np.abs(voices - reference["voices"]).max() < bound64
    assert np.abs(cut - reference["cut_in"]).max() < bound64


def test_the_numpy_model_gives_pytorchs_outputs_within_float32_rounding(method, reference, float32_bound):
    model = StreamModel.load(method=method)
    out = model.process(reference["audio"].astype(np.float32) / 32768.0)
    n = len(reference["voices"])
    assert float32_bound < 0.01   # the check means something: a wrong gate or a lost bias moves outputs by 0.1+
    assert np.abs(out.voices[:n] - reference["voices"]).max() < float32_bound
    assert np.abs(out.cut_in[:n] - reference["cut_in"]).max() < float32_bound
    assert np.allclose(out.end_s[:3], [0.03, 0.06, 0.09])


def test_a_stream_in_blocks_of_any_size_gives_the_whole_files_outputs(method, reference, float32_bound):
    audio = reference["audio"].astype(np.float32) / 32768.0
    model = StreamModel.load(method=method)
    whole = model.process(audio)
    for sizes in ([160], [480], [320, 7, 1000, 481], [5000]):
        model.reset()
        parts, i, k = [], 0, 0
        while i < len(audio):
            n = sizes[k % len(sizes)]
            parts.append(model.process(audio[i:i + n]))
            i, k = i + n, k + 1
        voices = np.concatenate([p.voices for p in parts])
        cut = np.concatenate([p.cut_in for p in parts])
        assert voices.shape == whole.voices.shape, sizes
        # each run is within float32_bound of the exact outputs, so within twice that of each other
        assert np.abs(voices - whole.voices).max() < 2 * float32_bound, sizes
        assert np.abs(cut - whole.cut_in).max() < 2 * float32_bound, sizes
        assert np.allclose(np.concatenate([p.end_s for p in parts]), whole.end_s)


def test_features_are_one_row_per_10_ms_and_a_tone_lands_in_its_band():
    t = np.arange(16000) / 16000
    mel = LogMel().process((0.3 * np.sin(2 * np.pi * 1000 * t)).astype(np.float32))
    assert mel.shape == (100, N_MEL)
    centres = np.argmax(mel_filters(), axis=0) * 16000 / 512
    assert abs(centres[int(np.argmax(mel[50]))] - 1000) < 60
    assert np.allclose(LogMel().process(np.zeros(800, np.float32)), np.log(LOG_FLOOR), atol=1e-5)


@pytest.mark.parametrize("name", sorted(WEIGHTS))
def test_the_shipped_weights_are_small_and_licensed(name):
    path = weights_path(name)
    assert path.stat().st_size < 500_000
    assert (path.parent / f"LICENSE-{path.stem}.txt").is_file()
    assert reference_path(name).is_file()


def test_each_method_runs_its_own_weights():
    assert weights_path("gated").name == "stream-overlap.npz"
    assert weights_path("stream").name == "stream-alone.npz"
    gate, alone = StreamModel.load(method="gated"), StreamModel.load(method="stream")
    assert not np.array_equal(gate._w1, alone._w1)
    for name, want in (("stream", alone), ("gated", gate)):
        p = Pipeline(replace(DetectionSettings(), interruption=replace(InterruptionSettings(), method=name)))
        stage = p.stream if name == "stream" else p.gate
        assert stage is not None and np.array_equal(stage.runner.model._w1, want._w1), name


def test_a_missing_weights_file_is_one_clear_error(tmp_path: Path):
    with pytest.raises(InputError, match=r"stream model .* is missing: reinstall voicecoach"):
        StreamModel.load(tmp_path / "nope.npz")


def test_a_broken_or_partial_weights_file_is_one_clear_error(tmp_path: Path, arrays):
    bad = tmp_path / "broken.npz"
    bad.write_bytes(b"not a numpy file")
    with pytest.raises(InputError, match=r"unreadable .*method = \"features\""):
        StreamModel.load(bad)
    partial = tmp_path / "partial.npz"
    np.savez(partial, **{k: v for k, v in arrays.items() if not k.startswith("gru")})
    with pytest.raises(InputError, match="unreadable"):
        StreamModel.load(partial)
