"""The Speaker: non-blocking text to speech that knows exactly when it is talking.

``say()`` only queues, and returns a :class:`~voicecoach.speech.results.PendingSpeech` whose ``wait()`` tells
what really happened (spoken, only a tone, not heard, stopped). One playback thread takes prompts in order,
renders each a few sentences at a time (through the :class:`~voicecoach.speech.synth.Synthesizer`: pyttsx3 on its
own thread, espeak-ng, then a tone), and writes the audio in small blocks to an
:class:`~voicecoach.audio.playback.AudioSink`. ``is_speaking()`` is true from the first block handed to the sink
until the sink reports it has been heard, which is what the runtime uses so the detectors never hear the
product's own voice. ``stop()`` drops the queue and the rest of the current prompt. A prompt longer than
:data:`~voicecoach.speech.text.MAX_PROMPT_CHARS` is cut at a sentence end, with a warning.
"""

from __future__ import annotations

import collections
import logging
import threading
from typing import Callable, Iterable

import numpy as np
from numpy.typing import NDArray

from ..audio import device
from ..audio.playback import AudioSink, NullSink
from ..clock import Clock, MonotonicClock
from .engines import EngineFactory, Voice, clean_text
from .results import Delivery, PendingSpeech
from .settings import SpeechSettings
from .synth import Rendered, Synthesizer, to_rate
from .text import limit_prompt, split_for_speech

log = logging.getLogger(__name__)


class Speaker:
    """Queue prompts, synthesise them off the caller's thread, and play them on the product's own output."""

    def __init__(self, settings: SpeechSettings, output: str | None = None, sink: AudioSink | None = None,
                 on_text: Callable[[str], None] | None = None, *, engine_factory: EngineFactory | None = None,
                 clock: Clock | None = None, reopen_s: float = 10.0) -> None:
        self.settings = settings
        self.on_text = on_text
        self.clock = clock or MonotonicClock()
        self.synth = Synthesizer(settings, engine_factory, self.clock)
        self.output = output
        self.reopen_s = reopen_s
        self._owns_device = sink is None  # only a device we opened is reopened after it was lost
        self._lost_at = self.clock.now()
        self._lost_generation = device.generation()  # PortAudio's, when the device was last tried
        self.problem = ""  # why nothing can be heard right now ("" while the output works)
        self.sink: AudioSink = sink if sink is not None else self._open_device()
        self._degraded = self._owns_device and isinstance(self.sink, NullSink)
        # (generation, text, voice, recorded audio to play instead of speech or None, its pending result)
        self._queue: collections.deque[tuple[int, str, Voice, tuple[NDArray[np.int16], int] | None,
                                             PendingSpeech]] = collections.deque()
        self._cond = threading.Condition()
        self._generation = 0  # bumped by stop(): anything from an older generation is dropped
        self._working = False  # a prompt is being rendered or played
        self._speaking = False
        self._last_end = float("-inf")
        self._closed = False
        self._stop_playing = threading.Event()
        self._thread = threading.Thread(target=self._run, name="voicecoach-speaker", daemon=True)
        self._thread.start()

    # --- public API --------------------------------------------------------------------------------------------

    def say(self, text: str, *, voice: str | None = None, rate_wpm: int | None = None) -> PendingSpeech:
        """Queue ``text`` to be spoken after what is already queued; returns at once with its pending result."""
        return self._enqueue(_limited(text), self._voice(voice, rate_wpm), None)

    def play(self, audio: NDArray[np.int16], sample_rate: int, label: str = "recording") -> PendingSpeech:
        """Queue recorded audio (e.g. a voice note) to play after what is already queued; returns at once."""
        return self._enqueue(label, self._voice(None, None), (audio, sample_rate))

    def _enqueue(self, text: str, voice: Voice, recorded: tuple[NDArray[np.int16], int] | None) -> PendingSpeech:
        pending = PendingSpeech(text)
        if not text and recorded is None:
            pending.resolve(Delivery.SPOKEN)  # nothing to say
            return pending
        with self._cond:
            if self._closed:
                log.warning("speaker is closed; not saying: %s", text)
                pending.resolve(Delivery.STOPPED, "the speaker is closed")
                return pending
            self._queue.append((self._generation, text, voice, recorded, pending))
            self._cond.notify_all()
        return pending

    def stop(self) -> None:
        """Stop speaking now and drop everything queued."""
        with self._cond:
            self._generation += 1
            for *_, pending in self._queue:
                pending.resolve(Delivery.STOPPED, "stopped before it was spoken")
            self._queue.clear()
            self._stop_playing.set()
            self._cond.notify_all()
        self.sink.discard()

    def is_speaking(self) -> bool:
        """True from the first sample handed to the output until the last one has been played."""
        return self._speaking

    def busy(self) -> bool:
        """True while speaking, rendering, or anything is queued."""
        with self._cond:
            return self._working or bool(self._queue)

    def wait(self, timeout_s: float | None = None) -> bool:
        """Block until idle (nothing queued, rendered or playing); False if ``timeout_s`` passed first."""
        with self._cond:
            return self._cond.wait_for(lambda: not (self._working or self._queue), timeout_s)

    def last_end(self) -> float:
        """Clock time (monotonic seconds) when speech last ended; -inf before the first prompt."""
        return self._last_end

    def render(self, text: str, *, voice: str | None = None, rate_wpm: int | None = None,
               sample_rate: int | None = None) -> tuple[NDArray[np.int16], int]:
        """Synthesise only: (int16 mono audio, sample rate); the engine's own rate unless ``sample_rate`` is given."""
        result = self.synthesize(text, voice=voice, rate_wpm=rate_wpm, sample_rate=sample_rate)
        return result.audio, result.sample_rate

    def synthesize(self, text: str, *, voice: str | None = None, rate_wpm: int | None = None,
                   sample_rate: int | None = None) -> Rendered:
        """Like :meth:`render`, with the engine used, time taken and whether it came from the cache."""
        result = self.synth.render_text(_limited(text), self._voice(voice, rate_wpm), sample_rate)
        if not result.is_speech:
            self._report(text)
        return result

    def prepare(self, texts: Iterable[str]) -> None:
        """Render fixed prompts into the cache at the output's rate (and warm the engine) before they are needed."""
        for text in texts:
            for chunk in split_for_speech(limit_prompt(normalise(text))[0]):
                if self._closed:
                    return
                self.synth.render(chunk, self._voice(None, None), self.sink.sample_rate)

    def cache_info(self) -> dict[str, int]:
        """Rendered-prompt cache hits, misses and size."""
        return self.synth.cache_info()

    def close(self) -> None:
        """Finish the queued prompts (call :meth:`stop` first to cut them), then release the output and engine."""
        with self._cond:
            if self._closed:
                return
            self._closed = True
            self._cond.notify_all()
        self._thread.join()
        self.sink.close()
        self.synth.close()

    def __enter__(self) -> "Speaker":
        return self

    def __exit__(self, exc_type: object, *exc: object) -> None:
        """Close; left by an exception (Ctrl-C during ``say``), the prompt is cut first, not finished: the whole
        sentence went on playing, 8 s after the Ctrl-C here."""
        if exc_type is not None:
            self.stop()
        self.close()

    # --- the playback thread -----------------------------------------------------------------------------------

    def _voice(self, voice: str | None, rate_wpm: int | None) -> Voice:
        s = self.settings
        return Voice(s.voice if voice is None else voice, s.rate_wpm if rate_wpm is None else int(rate_wpm), s.volume)

    def _report(self, text: str) -> None:
        """Tell the user what could not be said out loud."""
        if self.on_text is not None:
            try:
                self.on_text(text)
            except Exception:  # noqa: BLE001 - a broken callback must not stop the speaker
                log.exception("on_text callback failed")

    def _run(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._queue or self._closed)
                if not self._queue:
                    return
                generation, text, voice, recorded, pending = self._queue.popleft()
                self._working = True
                self._stop_playing.clear()
            outcome: tuple[Delivery, str] = (Delivery.STOPPED, "the speaker failed")
            try:
                if recorded is None:
                    outcome = self._speak(generation, text, voice)
                else:
                    outcome = self._play_recording(recorded)
            except Exception:  # noqa: BLE001 - the speaker thread must survive anything
                log.exception("speaking failed: %s", text)
            finally:
                pending.resolve(*outcome)
                with self._cond:
                    self._working = False
                    self._cond.notify_all()

    def _speak(self, generation: int, text: str, voice: Voice) -> tuple[Delivery, str]:
        """Render and play ``text`` a few sentences at a time; what really happened."""
        self._maybe_reopen()
        delivery, reason = Delivery.SPOKEN, ""
        for chunk in split_for_speech(text):
            result = self.synth.render(chunk, voice, self.sink.sample_rate)
            if generation != self._generation:
                return Delivery.STOPPED, "stopped while rendering"
            if not result.is_speech:
                delivery, reason = Delivery.TONE, "no speech engine worked (install espeak-ng)"
            if not getattr(self.sink, "audible", True):
                (log.debug if self.on_text else log.info)("(no speaker) %s", text)
                self._report(text)
                return Delivery.NOT_HEARD, self.problem or "the output is not a sound device"
            log.debug("speaking (%s, %.2f s, %s): %s", result.engine, result.duration_s,
                      "cached" if result.cached else f"rendered in {result.elapsed_s * 1000:.0f} ms", chunk)
            if not self._play(result.audio):
                self._report(text)
                return Delivery.NOT_HEARD, self.problem
            if self._stop_playing.is_set():
                return Delivery.STOPPED, "stopped while speaking"
        if delivery is not Delivery.SPOKEN:
            self._report(text)
        return delivery, reason

    def _play_recording(self, recorded: tuple[NDArray[np.int16], int]) -> tuple[Delivery, str]:
        self._maybe_reopen()
        if not getattr(self.sink, "audible", True):
            return Delivery.NOT_HEARD, self.problem or "the output is not a sound device"
        if not self._play(to_rate(recorded[0], recorded[1], self.sink.sample_rate)):
            return Delivery.NOT_HEARD, self.problem
        return (Delivery.STOPPED, "stopped while playing") if self._stop_playing.is_set() else (Delivery.SPOKEN, "")

    def _play(self, audio: NDArray[np.int16]) -> bool:
        """Write the audio in blocks and wait until it has been heard; False if the output failed."""
        block = max(1, self.sink.sample_rate * self.settings.block_ms // 1000)
        self._speaking = True
        try:
            for i in range(0, len(audio), block):
                if self._stop_playing.is_set():
                    break
                if not self._write(audio[i:i + block]):
                    return False
            while not self._stop_playing.is_set():
                pending = self._pending()
                if pending is None:
                    return False
                if pending <= 0:
                    break
                self._stop_playing.wait(min(pending, 0.01))
            if self._stop_playing.is_set():
                self._drain_after_stop()
        finally:
            self._last_end = self.clock.now()
            self._speaking = False
        return True

    def _drain_after_stop(self) -> None:
        """After stop(): what the device already holds still plays; stay 'speaking' until it has."""
        deadline = self.clock.now() + 1.0
        while self.clock.now() < deadline:
            pending = self._pending()
            if pending is None or pending <= 0:
                return
            threading.Event().wait(min(pending, 0.01))

    def _write(self, block: NDArray[np.int16]) -> bool:
        try:
            self.sink.write(block)
            return True
        except Exception as exc:  # noqa: BLE001 - a lost device degrades to text
            self._lost(exc)
            return False

    def _pending(self) -> float | None:
        """Seconds until what was handed over has been heard; None if the output failed meanwhile (the sink looks
        for a stalled stream here too, so a sound whose stream stopped is not waited for for ever)."""
        try:
            return self.sink.pending_s()
        except Exception as exc:  # noqa: BLE001 - a lost device degrades to text
            self._lost(exc)
            return None

    def _lost(self, exc: Exception) -> None:
        """The output failed: prompts go to text until it is opened again."""
        log.warning("the speaker failed (%s); prompts will be shown as text from now on", exc)
        self.problem = f"the output device failed ({exc})"
        broken, self.sink = self.sink, NullSink(self.sink.sample_rate)
        self._lost_at = self.clock.now() if not getattr(broken, "stale", False) else float("-inf")
        self._lost_generation = device.generation()
        self._degraded = self._owns_device
        try:
            broken.close()
        except Exception:  # noqa: BLE001
            pass

    def _open_device(self) -> AudioSink:
        """The sound device, or a NullSink (prompts reported as text) when it cannot be opened."""
        try:
            from ..audio.playback import DeviceSink

            return DeviceSink(self.output, clock=self.clock)
        except Exception as exc:  # noqa: BLE001 - VoicecoachError, PortAudioError, missing library
            log.warning("no usable speaker (%s); prompts will be shown as text", exc)
            self.problem = f"no usable output device ({exc})"
            return NullSink()

    def _maybe_reopen(self) -> None:
        """Try the device again (at most every ``reopen_s``) when it could not be opened or was lost; at once when
        PortAudio was reinitialised meanwhile (the microphone's recovery after a sound-server restart ends the
        speaker's stream too, and finds the restarted server)."""
        if self._owns_device and getattr(self.sink, "stale", False):
            log.info("the sound system was restarted; opening the speaker again")
            self._degraded, self._lost_at = True, float("-inf")
            self.sink.close()  # a stale stream is not touched: only the object is dropped
            self.sink = NullSink(self.sink.sample_rate)
        if not self._degraded:
            return
        rescanned = device.generation() != self._lost_generation
        if self.clock.now() - self._lost_at < self.reopen_s and not rescanned:
            return
        self._lost_at = self.clock.now()
        self._lost_generation = device.generation()
        try:
            from ..audio.playback import DeviceSink

            self.sink = DeviceSink(self.output, clock=self.clock)
            self._degraded = False
            self.problem = ""
            log.info("the speaker is back")
        except Exception as exc:  # noqa: BLE001
            log.debug("speaker still unavailable: %s", exc)


def _limited(text: str) -> str:
    """``text`` normalised and cut to what one prompt may hold, with a warning when it was cut."""
    text, cut = limit_prompt(normalise(text))
    if cut:
        log.warning("a prompt was cut to its first %d characters (one prompt holds at most that much): %s ...",
                    len(text), text[:60])
    return text


def normalise(text: str) -> str:
    """Text as it is synthesised: control characters removed, whitespace collapsed."""
    return " ".join(clean_text(str(text)).split())


