"""Vosk grammar recognition: the only module that imports vosk (lazily).

:class:`VoskRecognizer` runs a ``KaldiRecognizer`` restricted to the command phrases plus the model's unknown-word
token (so other speech is absorbed as "unknown" rather than forced onto a command). It is fed 16 kHz int16 frames
and returns :class:`Transcript` objects: partial hypotheses when they change (so a command can be acted on before
vosk decides the utterance has ended) and the final text of each utterance.

Vosk silently drops grammar words that are not in the model's vocabulary; this module finds the model's unknown-word
token (``[unk]`` in the English models, ``<UNK>`` in the Korean one) from its ``words.txt`` or the symbol table
inside its graph file, checks every phrase word against the model, leaves out phrases it cannot hear, and logs one
warning naming them.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import sys
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

from ..audio.frames import SAMPLE_RATE, Frame
from ..errors import VoicecoachError

log = logging.getLogger(__name__)

UNKNOWN_TOKENS = ("[unk]", "<unk>", "<UNK>", "[UNK]")
_GRAPH_FILES = ("graph/Gr.fst", "Gr.fst", "graph/HCLG.fst", "HCLG.fst")
_WORDS_FILES = ("graph/words.txt", "words.txt")
_SYMBOL_SCAN_BYTES = 64 << 20  # the word symbol table sits at the start of the graph file


@dataclass(frozen=True)
class Transcript:
    """What the recognizer heard: ``text`` (unknown-word tokens removed), time ``t`` (s of audio), partial or final."""

    text: str
    t: float
    final: bool
    unknown: int = 0  # words outside the command phrases (unknown-word tokens) that were removed from ``text``


# what vosk's __init__ imports for its model downloader and subtitles, which voicecoach never calls: requests
# brings urllib3, whose import opens an IPv6 socket (bound to ::1, its test for IPv6) in a product that promises no
# socket at all unless the couple turns on the page or hooks
_VOSK_UNUSED = {"requests": (), "tqdm": ("tqdm",), "srt": ()}


def vosk_module() -> Any:
    """Import vosk (lazily), with its own logging silenced unless voicecoach logs at DEBUG, and without the
    network packages its ``__init__`` imports for what voicecoach does not use (:data:`_VOSK_UNUSED`)."""
    try:
        vosk = _import_vosk_without_network_packages()
    except (ImportError, AttributeError, TypeError):  # a vosk whose __init__ uses them otherwise: import it whole
        sys.modules.pop("vosk", None)
        try:
            vosk = importlib.import_module("vosk")
        except ImportError as exc:  # pragma: no cover - vosk is a dependency
            raise VoicecoachError(f"the vosk package cannot be imported ({exc}); install it with: pip install "
                                  f"vosk") from None
    vosk.SetLogLevel(0 if log.isEnabledFor(logging.DEBUG) else -1)
    return vosk


def _import_vosk_without_network_packages() -> Any:
    """``import vosk`` with placeholders for :data:`_VOSK_UNUSED` (only those not imported already), taken away
    again after it: another importer gets the real packages."""
    placeholders = {}
    for name, attributes in _VOSK_UNUSED.items():
        if name not in sys.modules:
            module = types.ModuleType(name, "not imported by voicecoach: vosk's downloader and subtitles are unused")
            for attribute in attributes:
                setattr(module, attribute, None)
            placeholders[name] = sys.modules[name] = module
    try:
        return importlib.import_module("vosk")
    finally:
        for name, module in placeholders.items():
            if sys.modules.get(name) is module:
                del sys.modules[name]


def unknown_token_in_files(model_dir: Path) -> str | None:
    """The unknown-word token named in the model's ``words.txt`` or graph symbol table, or None if none is found."""
    for name in _WORDS_FILES:
        path = model_dir / name
        if path.is_file():
            words = {line.split(maxsplit=1)[0] for line in path.read_text("utf-8", "replace").splitlines() if line.strip()}
            return next((tok for tok in UNKNOWN_TOKENS if tok in words), None)
    for name in _GRAPH_FILES:
        path = model_dir / name
        if path.is_file():
            with path.open("rb") as f:
                head = f.read(_SYMBOL_SCAN_BYTES)
            for tok in UNKNOWN_TOKENS:  # OpenFst symbol: int32 length, the bytes, int64 key
                raw = tok.encode()
                if re.search(re.escape(len(raw).to_bytes(4, "little") + raw), head):
                    return tok
            return None
    return None


def is_model_dir(path: Path) -> bool:
    """True if ``path`` looks like an unpacked Vosk model (an acoustic model and a graph)."""
    has_am = (path / "am" / "final.mdl").is_file() or (path / "final.mdl").is_file()
    has_graph = any((path / n).is_file() for n in _GRAPH_FILES + ("graph/HCLr.fst", "HCLr.fst"))
    return has_am and has_graph


def static_graph(path: Path) -> bool:
    """True if the model's graph is static: it has an ``HCLG.fst`` (the big models). Vosk loads ``HCLG.fst`` whenever
    it is there, before ``HCLr.fst`` + ``Gr.fst`` (vosk-api's ``Model::ReadDataFiles``), and then ignores a grammar,
    so the recognizer hears every word of the talk, not only the command phrases."""
    def has(name: str) -> bool:
        return (path / "graph" / name).is_file() or (path / name).is_file()

    return has("HCLG.fst")


class VoskModel:
    """A loaded Vosk model (slow: seconds and hundreds of MB), its unknown-word token, and a vocabulary check."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        if not is_model_dir(self.path):
            raise VoicecoachError(f"{self.path} is not a Vosk model folder (it needs am/ and graph/; "
                                  f"download one with: voicecoach models download NAME)")
        vosk = vosk_module()
        try:
            self.model = vosk.Model(str(self.path))
        except Exception as exc:  # noqa: BLE001 - vosk raises a bare Exception
            name = self.path.name if self.path.name.startswith("vosk-model") else "NAME"
            raise VoicecoachError(f"cannot load the Vosk model at {self.path} ({exc}); it may be incomplete: "
                                  f"download it again with: voicecoach models download {name} --force") from None
        token = unknown_token_in_files(self.path)
        if token is None or not self.knows(token):
            token = next((tok for tok in UNKNOWN_TOKENS if self.knows(tok)), None)
        self.unknown_token = token
        if token is None:
            log.warning("the Vosk model at %s has no unknown-word token; speech that is not a command may be "
                        "heard as one", self.path)

    @property
    def name(self) -> str:
        """A short display name: the folder name (with its parent when the folder is just called "model")."""
        p = self.path
        return f"{p.parent.name}/{p.name}" if p.name == "model" else p.name

    def knows(self, word: str) -> bool:
        """True if ``word`` is in the model's vocabulary."""
        return int(self.model.vosk_model_find_word(word)) >= 0

    def missing_words(self, phrases: Sequence[str]) -> dict[str, list[str]]:
        """For each phrase with words outside the vocabulary: those words."""
        missing = {}
        for phrase in phrases:
            unknown = [w for w in phrase.split() if not self.knows(w)]
            if unknown:
                missing[phrase] = unknown
        return missing


_LOADED: dict[Path, VoskModel] = {}


def load_model(path: Path | str) -> VoskModel:
    """The model at ``path``, loaded once per process and shared (a model is read-only once loaded)."""
    key = Path(path).resolve()
    if key not in _LOADED:
        _LOADED[key] = VoskModel(key)
    return _LOADED[key]


class VoskRecognizer:
    """Streaming grammar recognizer: ``process(frame) -> [Transcript]``, ``reset()``."""

    def __init__(self, model: VoskModel | Path | str, phrases: Sequence[str], sample_rate: int = SAMPLE_RATE,
                 pack_name: str = "the language pack") -> None:
        self.model = model if isinstance(model, VoskModel) else load_model(model)
        self.sample_rate = sample_rate
        self.pack_name = pack_name
        self._warned: set[str] = set()
        self.phrases = self._hearable(phrases)
        if not self.phrases:
            raise VoicecoachError(f"none of the phrases of {pack_name} are in the vocabulary of the model "
                                  f"{self.model.path} (is it the model for this language? see: voicecoach models list)")
        self.grammar_json = self._grammar(self.phrases)
        vosk = vosk_module()
        self._rec = vosk.KaldiRecognizer(self.model.model, float(sample_rate), self.grammar_json)
        self._partial = ""

    def _hearable(self, phrases: Sequence[str]) -> list[str]:
        """The phrases whose words are all in the model's vocabulary; the others are named once in a warning."""
        missing = {p: w for p, w in self.model.missing_words(phrases).items() if p not in self._warned}
        if missing:
            self._warned |= set(missing)
            listed = "; ".join(f"'{p}' ({', '.join(w)})" for p, w in missing.items())
            log.warning("%s has phrases the model %s cannot hear (words not in its vocabulary), left out: %s — "
                        "replace them with words the model knows", self.pack_name, self.model.name, listed)
        return [p for p in phrases if not self.model.missing_words([p])]

    def _grammar(self, phrases: Sequence[str]) -> str:
        return json.dumps(list(phrases) + ([self.model.unknown_token] if self.model.unknown_token else []),
                          ensure_ascii=False)

    def set_phrases(self, phrases: Sequence[str]) -> bool:
        """Listen for these phrases from now on (the utterance in progress is dropped). False when the model can
        hear none of them: then the recognizer should rest until the phrases change."""
        hearable = self._hearable(phrases)
        if hearable == self.phrases:
            return bool(hearable)
        self.phrases = hearable
        if not hearable:
            return False
        self.grammar_json = self._grammar(hearable)
        self._rec.SetGrammar(self.grammar_json)
        self.reset()
        return True

    def _clean(self, text: str) -> str:
        token = self.model.unknown_token
        return " ".join(w for w in text.split() if w != token)

    def _final(self, result: str, t: float) -> Transcript:
        raw = json.loads(result).get("text", "")
        unknown = sum(1 for w in raw.split() if w == self.model.unknown_token)
        return Transcript(self._clean(raw), t, final=True, unknown=unknown)

    def process(self, frame: Frame) -> list[Transcript]:
        """Feed one frame; returns a final transcript at the end of an utterance, or a changed partial one."""
        t = frame.end_s
        if self._rec.AcceptWaveform(frame.samples.tobytes()):
            self._partial = ""
            return [self._final(self._rec.Result(), t)]
        partial = self._clean(json.loads(self._rec.PartialResult()).get("partial", ""))
        if partial != self._partial:
            self._partial = partial
            return [Transcript(partial, t, final=False)]
        return []

    def flush(self, t: float) -> list[Transcript]:
        """End the current utterance now (e.g. at the end of a file): its final transcript."""
        self._partial = ""
        return [self._final(self._rec.FinalResult(), t)]

    def reset(self) -> None:
        """Drop the utterance in progress (call when the stream was interrupted or listening starts afresh)."""
        self._rec.Reset()
        self._partial = ""
