"""Hearing commands: the Vosk recognizer and the double-clap detector behind one ``process(frame)``.

:class:`CommandDecoder` (pure) turns the recognizer's transcripts into :class:`~voicecoach.events.Heard` answers: a
partial result is acted on once it has held unchanged for ``partial_stable_ms`` and names exactly one command (or
one of the question's own choices) that no longer phrase of another could still grow into ("no" is acted on at
once because "no thanks" means the same; a lone "time" waits); the final result of that utterance is then not
reported again. :class:`CommandListener` adds the model (found cheaply at construction, loaded in
:meth:`CommandListener.load`, which may take seconds) and the double clap, which works with no model at all.

The grammar follows what is asked: :meth:`CommandListener.expect` takes the router's
:class:`~voicecoach.commands.Hearing` (the open question's commands and choices, or the commands heard at any
time) and the recognizer listens for exactly those phrases, so a check-in's "now, or later?" is heard as "now".
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Collection, Iterable

from ..audio.frames import Frame
from ..commands import EVERYTHING, Command, Hearing, Reply, Source
from ..events import Heard
from .clap import DoubleClapDetector
from .lang import LanguagePack, load_language, normalize
from .models import find_model, language_code, missing_model_message
from .recognizer import Transcript, VoskRecognizer
from .settings import CommandSettings

log = logging.getLogger(__name__)


class CommandDecoder:
    """Pure: transcripts (partial and final) in, at most one voice :class:`Heard` per utterance out."""

    def __init__(self, pack: LanguagePack, partial_stable_ms: int = 250) -> None:
        self.pack = pack
        self.stable_s = partial_stable_ms / 1000.0
        self.reset()

    def reset(self) -> None:
        """Forget the utterance in progress."""
        self._partial = ""
        self._since = 0.0
        self._accepted: Reply | None = None
        self._judged: tuple[LanguagePack, str, Reply | None] | None = None  # the last partial judged, its verdict

    @property
    def forming(self) -> bool:
        """True while a phrase is half-heard: a partial transcript not yet acted on (nor ended by a final one)."""
        return bool(self._partial) and self._accepted is None

    def _exact(self, text: str) -> bool:
        """True when the transcript is one command phrase and nothing else."""
        found = self.pack.find(text)
        return bool(found) and max(m.length for m in found) == len(normalize(text))

    def _sure_command(self, text: str) -> Reply | None:
        """The one command a partial names, or None if none, several, or it might still grow into another."""
        command = self.pack.match_command(text)
        if command is None:
            return None
        found = self.pack.find(text)
        spans = [(m.start, m.end) for m in found if m.command == command]
        for m in found:  # another command's phrase outside the winner ("yes ... let's pause"): wait for the final
            if m.command != command and not any(a <= m.start and m.end <= b for a, b in spans):
                return None
        return None if self.pack.could_grow_into_other(text, command) else command

    def update(self, transcripts: Iterable[Transcript], now: float,
               strict: Collection[Reply] = ()) -> list[Heard]:
        """Take this frame's transcripts at audio time ``now``; returns what was heard (of the pack's phrases).

        Replies in ``strict`` (commands, a question's choices) count only from a final transcript that is the
        phrase and nothing else (so "next" said alone ends a turn, but "the next day" inside a partner's story
        does not).
        """
        out: list[Heard] = []

        def emit(reply: Reply, text: str, final: Transcript | None = None) -> None:
            if reply in strict:
                if final is not None and final.unknown == 0 and self._exact(text):
                    out.append(Heard(t=now, reply=reply, text=text, source=Source.VOICE))
            else:
                out.append(Heard(t=now, reply=reply, text=text, source=Source.VOICE))

        for tr in transcripts:
            if tr.final:
                command = self.pack.match_command(tr.text) if tr.text else None
                if self._accepted is None and command is not None:
                    emit(command, tr.text, final=tr)
                elif command is not None and command != self._accepted:
                    log.debug("the final transcript (%s) revises the partial command %s; keeping the first",
                              command, self._accepted)  # the command, never the words: they may be the talk's
                self.reset()
            elif tr.text != self._partial:
                self._partial, self._since = tr.text, tr.t
        if self._accepted is None and self._partial and now - self._since >= self.stable_s - 1e-9:
            judged = self._judged  # once a partial (for this pack), not once a frame
            if judged is None or judged[0] is not self.pack or judged[1] != self._partial:
                judged = self._judged = (self.pack, self._partial, self._sure_command(self._partial))
            command = judged[2]
            if command is not None and command not in strict:
                self._accepted = command
                emit(command, self._partial)
        return out


class CommandListener:
    """Voice commands (when a model is installed) and the double clap: ``process(frame) -> [Heard]``."""

    def __init__(self, settings: CommandSettings | None = None, language: str | LanguagePack | None = None) -> None:
        self.settings = settings or CommandSettings()
        spec = language if language is not None else self.settings.language
        self.pack = spec if isinstance(spec, LanguagePack) else load_language(spec)
        self.clap = DoubleClapDetector(self.settings.clap)
        self.decoder = CommandDecoder(self.pack, self.settings.partial_stable_ms)
        self.model_path: Path | None = find_model(self.settings, self.pack.model)
        self.recognizer: VoskRecognizer | None = None
        self.hearing: Hearing = EVERYTHING
        self._strict: frozenset[Reply] = frozenset()  # what counts only said on its own (``Hearing.strict``)
        self._phrases = tuple(self.decoder.pack.phrases())  # the recognizer's grammar
        self._load_lock = threading.Lock()
        self._warned = False
        self._idle = False
        self._grammar_applied: tuple[str, ...] | None = None
        self._next_sample = 0

    @property
    def has_model(self) -> bool:
        """True once a model is loaded and spoken commands are heard."""
        return self.recognizer is not None

    def behind(self, hearing: Hearing) -> bool:
        """True while audio listened to for ``hearing`` may still give a command: a phrase is half-heard."""
        return self.recognizer is not None and self.hearing == hearing and self.decoder.forming

    def load(self) -> bool:
        """Load the model (seconds; safe to call from a background thread). False, with one warning, if it is missing.

        A model that exists but cannot be loaded raises :class:`~voicecoach.errors.VoicecoachError`.
        """
        with self._load_lock:
            if self.recognizer is not None:
                return True
            if self.model_path is None:
                if not self._warned:
                    self._warned = True
                    log.warning("%s", missing_model_message(self.settings.model, language_code(self.pack.code),
                                                             self.pack.model))
                return False
            log.debug("loading the Vosk model %s", self.model_path)
            self.recognizer = VoskRecognizer(self.model_path, self.pack.phrases(),
                                             pack_name=f"the language pack '{self.pack.code}' ({self.pack.source})")
            return True

    def expect(self, hearing: Hearing) -> None:
        """Listen for what is asked now (the router's :class:`Hearing`); a change starts afresh."""
        if hearing == self.hearing:
            return
        self.hearing = hearing
        self.decoder.pack = self.pack.restricted(hearing.commands | hearing.strict, hearing.options)
        options = self.decoder.pack.option_replies() if hearing.strict_options else frozenset()
        self._strict = frozenset(hearing.strict) | options
        decoys = self.pack.restricted(hearing.decoys).phrases() if hearing.decoys else []
        self._phrases = tuple(dict.fromkeys([*self.decoder.pack.phrases(), *decoys]))  # heard; decoys never act
        self.reset()

    def process(self, frame: Frame) -> list[Heard]:
        """Feed one frame: the double clap, and what the recognizer hears of what is expected."""
        heard = self.clap.process(frame)
        recognizer = self.recognizer
        if recognizer is None:
            return heard
        phrases = self._phrases
        if phrases != self._grammar_applied:
            self._idle = not recognizer.set_phrases(phrases) if phrases else True
            self._grammar_applied = phrases
            self.decoder.reset()
        if self._idle:
            return heard  # nothing could be heard: the recognizer rests
        if frame.start_sample != self._next_sample:  # resumed, or audio went missing (muted)
            recognizer.reset()
            self.decoder.reset()
        self._next_sample = frame.end_sample
        return heard + self.decoder.update(recognizer.process(frame), frame.end_s, self._strict)

    def finish(self, t: float) -> list[Heard]:
        """End of the stream (e.g. a WAV file): the last utterance's command, if any."""
        if self.recognizer is None or self._idle:
            return []
        return self.decoder.update(self.recognizer.flush(t), t, self._strict)

    def reset(self) -> None:
        """Start afresh (e.g. when an answer window opens after a prompt)."""
        self.clap.reset()
        self.decoder.reset()
        if self.recognizer is not None:
            self.recognizer.reset()
