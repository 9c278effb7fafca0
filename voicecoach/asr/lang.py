"""Language packs: which phrases say which command, read from TOML, and matching a transcript to a command.

A pack is a TOML file::

    code = "en"
    name = "English"
    model = "vosk-model-small-en-us-0.15"   # optional: the Vosk model this language uses by default
    [commands]
    yes = ["yes", "okay", "let's do it"]
    not_now = ["not now", "no"]
    ...

English (and a Korean starter pack) are built in (``voicecoach/asr/lang/<code>.toml``); a pack in the user config
dir (``<config dir>/lang/<code>.toml``) overrides a built-in one of the same code; a path to a ``.toml`` file
works too. Phrases are matched as whole words after lower-casing and dropping punctuation, so "not now" never
matches "now", and "no" never matches "know" or "nothing".
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass, field
from pathlib import Path

from .. import paths
from ..commands import COMMAND_NAMES, ClapChoice, Command, Option, Reply
from ..errors import InputError
from ..settings import read_toml_file

log = logging.getLogger(__name__)

__all__ = ["COMMAND_NAMES", "LanguagePack", "Match", "normalize", "load_language", "match_command",
           "available_languages", "pack_from_dict", "read_pack"]

BUILTIN_DIR = Path(__file__).with_name("lang")
# a choice's clap wording when a pack gives none (the prompts are English in every pack)
CLAP_CHOICE = "Clap twice for {clap}, or stay quiet for {silence}."
_WORD = re.compile(r"[\w']+")


def normalize(text: str) -> tuple[str, ...]:
    """Lower-cased words of ``text``: punctuation dropped, apostrophes inside words kept ("let's")."""
    text = text.casefold().replace("\u2019", "'").replace("`", "'")
    words = (w.strip("'") for w in _WORD.findall(text))
    return tuple(w for w in words if w)


@dataclass(frozen=True)
class Match:
    """One phrase found in a transcript: the command (or a question's own choice), the phrase, its word span."""

    command: Reply
    phrase: str
    start: int
    end: int

    @property
    def length(self) -> int:
        """Length of the phrase in words."""
        return self.end - self.start


@dataclass(frozen=True)
class LanguagePack:
    """The command phrases of one language (plus, in a :meth:`restricted` copy, a question's own choices)."""

    code: str
    name: str
    commands: dict[Command, tuple[str, ...]]
    model: str = ""
    source: str = "<memory>"
    options: tuple[str, ...] = ()  # a question's own choices, heard as themselves (they win over a command)
    # How a prompt says to answer when only the double clap is heard (no speech model): (spoken, instead) pairs
    clap_only: tuple[tuple[str, str], ...] = ()
    # How a prompt offering a choice says what a clap picks and what silence leaves (no speech model)
    clap_choice: str = CLAP_CHOICE
    _index: dict[tuple[str, ...], Reply] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for command, phrases in self.commands.items():
            for phrase in phrases:
                self._index[normalize(phrase)] = command
        for option in self.options:
            words = normalize(option)
            if words:
                self._index[words] = Option(" ".join(words))

    def restricted(self, commands: frozenset[Command], options: tuple[str, ...] = ()) -> "LanguagePack":
        """The phrases of ``commands`` only, plus ``options``: what one question listens for."""
        return LanguagePack(self.code, self.name, {c: p for c, p in self.commands.items() if c in commands},
                            self.model, self.source, tuple(options), self.clap_only, self.clap_choice)

    def clap_wording(self, text: str, choice: ClapChoice | None = None) -> str:
        """``text`` as said when no speech model is loaded: each ``[clap_only]`` phrase ("Say yes") replaced by
        its clap wording ("Clap twice for yes"), so a prompt never asks for an answer nobody can give by voice;
        the words of a ``choice`` it offers ("Say now or later.") by what a clap picks and what silence leaves
        ("Clap twice for now, or stay quiet for later.": the pack's ``clap_choice``), its first letter lower case
        where it goes on a sentence ("Just checking: clap twice for now, ...")."""
        if choice is not None and choice.spoken:
            wording = self.clap_choice.format(clap=choice.clap, silence=choice.silence)
            # a wording that opens with its own words (not with an option's name, "{clap}: ...") goes on a sentence
            # in lower case after ":" or "," (the re-ask after silence: "Just checking: " and the choice)
            within = wording if self.clap_choice.startswith("{") else wording[:1].lower() + wording[1:]
            text = re.sub(re.escape(choice.spoken), lambda m: within if re.search(r"[:,;]\s*$", text[:m.start()])
                          else wording, text)
        for spoken, instead in self.clap_only:
            text = text.replace(spoken, instead)
        return text

    def option_replies(self) -> frozenset[Option]:
        """The question's own choices (:attr:`options`) as the replies they are heard as."""
        return frozenset(r for r in self._index.values() if isinstance(r, Option))

    def missing(self, commands: frozenset[Command]) -> list[Command]:
        """Those of ``commands`` this pack has no phrase for, in registry order."""
        return [c for c in Command if c in commands and not self.commands.get(c)]

    def phrases(self) -> list[str]:
        """Every phrase of the pack, normalised (words joined by one space), in pack order."""
        return [" ".join(words) for words in self._index]

    def words(self) -> set[str]:
        """Every word used by a phrase."""
        return {w for words in self._index for w in words}

    def find(self, text: str) -> list[Match]:
        """All phrases found in ``text`` at word boundaries (overlaps included), in order of position."""
        words = normalize(text)
        found = []
        for phrase, command in self._index.items():
            n = len(phrase)
            for i in range(len(words) - n + 1):
                if words[i:i + n] == phrase:
                    found.append(Match(command, " ".join(phrase), i, i + n))
        return sorted(found, key=lambda m: (m.start, -m.length))

    def match_command(self, text: str) -> Reply | None:
        """The command said in a transcript: the longest phrase wins; None if none, or a tie between commands."""
        found = self.find(text)
        if not found:
            return None
        longest = max(m.length for m in found)
        winners = {m.command for m in found if m.length == longest}
        if len(winners) > 1:
            # the commands, never the transcript: a model that takes no grammar hears every word of the talk
            log.debug("ambiguous transcript (%d words): %s", len(normalize(text)), sorted(map(str, winners)))
            return None
        return winners.pop()

    def could_grow_into_other(self, text: str, command: Reply) -> bool:
        """True if the end of ``text`` is the start of a longer phrase of a different command (wait for more)."""
        words = normalize(text)
        for phrase, other in self._index.items():
            if other == command:
                continue
            for k in range(1, len(phrase)):
                if k <= len(words) and words[-k:] == phrase[:k]:
                    return True
        return False


def pack_from_dict(data: dict, source: str) -> LanguagePack:
    """Validate a parsed TOML pack; errors name the file, the key and the fix."""
    known = {"code", "name", "model", "commands", "clap_only", "clap_choice"}
    for key in data:
        if key not in known:
            raise InputError(f"{source}: unknown key '{key}' (known keys: {', '.join(sorted(known))})")
    table = data.get("commands")
    if not isinstance(table, dict) or not table:
        raise InputError(f"{source}: needs a [commands] table mapping command names to lists of phrases")
    commands: dict[Command, tuple[str, ...]] = {}
    owner: dict[tuple[str, ...], str] = {}
    for name, phrases in table.items():
        command = Command.named(name) if name in COMMAND_NAMES else None
        if command is None:
            raise InputError(f"{source}: unknown command 'commands.{name}' (known: {', '.join(COMMAND_NAMES)})")
        if not isinstance(phrases, list) or not phrases or not all(isinstance(p, str) for p in phrases):
            raise InputError(f"{source}: commands.{name} must be a non-empty list of phrases (strings)")
        for phrase in phrases:
            words = normalize(phrase)
            if not words:
                raise InputError(f"{source}: commands.{name} has a phrase with no words: {phrase!r}")
            if words in owner and owner[words] != name:
                raise InputError(f"{source}: the phrase {phrase!r} is given to both commands.{owner[words]} "
                                 f"and commands.{name} (keep it in one)")
            owner[words] = name
        commands[command] = tuple(" ".join(normalize(p)) for p in phrases)
    for key in ("code", "name", "model"):
        if key in data and not isinstance(data[key], str):
            raise InputError(f"{source}: {key} must be a string")
    code = data.get("code") or Path(source).stem
    return LanguagePack(code=code, name=data.get("name", code), commands=commands, model=data.get("model", ""),
                        source=source, clap_only=_clap_only(data.get("clap_only", {}), source),
                        clap_choice=_clap_choice(data.get("clap_choice", CLAP_CHOICE), source))


def _clap_only(table: object, source: str) -> tuple[tuple[str, str], ...]:
    """The ``[clap_only]`` table: each spoken phrase of a prompt mapped to what is said without a speech model."""
    if not isinstance(table, dict) or not all(isinstance(k, str) and k and isinstance(v, str)
                                              for k, v in table.items()):
        raise InputError(f"{source}: [clap_only] must map phrases of the prompts (\"Say yes\") to what is said "
                         "instead when only the double clap is heard (\"Clap twice for yes\")")
    return tuple(table.items())


def _clap_choice(wording: object, source: str) -> str:
    """The ``clap_choice`` wording: it must name both what a clap picks and what silence leaves."""
    if not isinstance(wording, str) or "{clap}" not in wording or "{silence}" not in wording:
        raise InputError(f"{source}: clap_choice must be a string naming {{clap}} and {{silence}} (\"{CLAP_CHOICE}\")")
    try:
        wording.format(clap="", silence="")
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(f"{source}: clap_choice may name only {{clap}} and {{silence}} ({exc})") from None
    return wording


def read_pack(path: Path) -> LanguagePack:
    """Read one pack file."""
    data = read_toml_file(path, "language pack", "save the language pack as UTF-8", "fix the line",
                          missing=f"language pack {path} does not exist (give a .toml file, or a language code "
                                  "such as 'en')")
    return pack_from_dict(data, str(path))


def pack_candidates(code: str) -> list[Path]:
    """Where a pack for ``code`` is looked for, in order: the user config dir, then the built-in packs."""
    return [paths.config_dir() / "lang" / f"{code}.toml", BUILTIN_DIR / f"{code}.toml"]


def available_languages() -> list[str]:
    """Language codes with a pack (built in or in the user config dir)."""
    codes = {p.stem for p in BUILTIN_DIR.glob("*.toml")}
    user = paths.config_dir() / "lang"
    if user.is_dir():
        codes |= {p.stem for p in user.glob("*.toml")}
    return sorted(codes)


def load_language(spec: str) -> LanguagePack:
    """The pack named by a language code ("en") or a path to a ``.toml`` file."""
    spec = spec.strip() or "en"
    if spec.endswith(".toml") or "/" in spec or "\\" in spec:
        return read_pack(Path(spec).expanduser())
    for path in pack_candidates(spec):
        if path.is_file():
            return read_pack(path)
    raise InputError(f"no language pack for '{spec}' (available: {', '.join(available_languages())}; "
                     f"or create {pack_candidates(spec)[0]} by copying {BUILTIN_DIR / 'en.toml'})")


def match_command(text: str, pack: LanguagePack | None = None) -> Reply | None:
    """The command said in ``text`` with ``pack`` (default: the English pack); see LanguagePack.match_command."""
    return (pack or _english()).match_command(text)


_ENGLISH: list[LanguagePack] = []


def _english() -> LanguagePack:
    if not _ENGLISH:
        _ENGLISH.append(read_pack(BUILTIN_DIR / "en.toml"))
    return _ENGLISH[0]
