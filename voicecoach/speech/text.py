"""How much text one prompt may hold, and how long text is cut into pieces the speech engine handles well.

espeak-ng through pyttsx3 crashes the whole process (SIGSEGV) on about 25,000 characters in one utterance, and its
time and memory grow faster than the text well before that (2,000 words: 8 s and 250 MB). So the Speaker renders
at most ``MAX_CHUNK_CHARS`` at a time, split at sentence ends (then commas, then spaces), and one prompt holds at
most ``MAX_PROMPT_CHARS`` (about two minutes of speech). Where a user asks for more (``voicecoach say``, a check-in
script's text) it is refused with :func:`prompt_problem`'s line; a longer prompt that still reaches the Speaker is
cut at a sentence end with a warning, never spoken for minutes or crashed on.
"""

from __future__ import annotations

import re

MAX_PROMPT_CHARS = 2000  # one prompt: about 350 words, two minutes at 160 words per minute
MAX_CHUNK_CHARS = 250  # one synthesis call: about a sentence or two

# Marks espeak-ng renders as silence on their own ("!", ":", "*" or "%" it does pronounce).
SILENT_MARKS = ".,;?\u2026-\u2013\u2014'\"()[]\u00bf\u00a1_"
_SENTENCE_END = re.compile(r"(?<=[.!?;:])\s+")
_CLAUSE_END = re.compile(r"(?<=[,)])\s+")


def prompt_problem(text: str, what: str = "the text") -> str | None:
    """Why ``text`` is too long to speak as one prompt (a line naming the limit and the fix), or None if it is fine."""
    n = len(text)
    if n <= MAX_PROMPT_CHARS:
        return None
    return (f"{what} is {n} characters long; one spoken prompt holds at most {MAX_PROMPT_CHARS} (about two "
            f"minutes of speech): shorten it or split it into several steps")


def is_silent(text: str) -> bool:
    """Whether ``text`` is only marks espeak-ng renders as silence ("...", "?") and control characters (spoken as
    spaces): the speech engines would take the silent render for a failed one, so such a prompt is refused where a
    user writes it."""
    return not "".join(c for c in text if c.isprintable()).strip(SILENT_MARKS + " ")


def limit_prompt(text: str) -> tuple[str, bool]:
    """``text`` cut to at most ``MAX_PROMPT_CHARS`` at the last sentence end (or space) before the limit; and
    whether anything was cut."""
    if len(text) <= MAX_PROMPT_CHARS:
        return text, False
    head = text[:MAX_PROMPT_CHARS]
    for pattern in (_SENTENCE_END, re.compile(r"\s+")):
        ends = [m.start() for m in pattern.finditer(head)]
        if ends and ends[-1] > MAX_PROMPT_CHARS // 2:
            return head[:ends[-1]], True
    return head, True


def split_for_speech(text: str, max_chars: int = MAX_CHUNK_CHARS) -> list[str]:
    """``text`` as pieces of at most ``max_chars``: whole sentences where they fit, packed together in order."""
    if len(text) <= max_chars:
        return [text] if text else []
    pieces: list[str] = []
    for sentence in _SENTENCE_END.split(text):
        pieces.extend(_split_long(sentence, max_chars))
    chunks: list[str] = []
    for piece in pieces:
        if chunks and len(chunks[-1]) + 1 + len(piece) <= max_chars:
            chunks[-1] += " " + piece
        else:
            chunks.append(piece)
    return chunks


def _split_long(sentence: str, max_chars: int) -> list[str]:
    """A sentence longer than ``max_chars`` cut at clause ends, then spaces, then anywhere."""
    if len(sentence) <= max_chars:
        return [sentence] if sentence else []
    out: list[str] = []
    rest = sentence
    while len(rest) > max_chars:
        head = rest[:max_chars + 1]
        cut = -1
        for pattern in (_CLAUSE_END, re.compile(r"\s+")):
            ends = [m.start() for m in pattern.finditer(head)]
            if ends and ends[-1] > 0:
                cut = ends[-1]
                break
        if cut <= 0:
            cut = max_chars
        out.append(rest[:cut].strip())
        rest = rest[cut:].strip()
    if rest:
        out.append(rest)
    return out
