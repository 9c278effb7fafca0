"""Settings that an earlier voicecoach had and this one does not: what becomes of them in an older config file.

``voicecoach config init`` writes every setting, so a couple's config.toml holds each key of the version they first
set up with. An unknown key is an error (a typo must not be silently ignored), but a key that was removed or
renamed in an update is not the couple's mistake, and refusing it would keep an updated kiosk from starting with
nobody at a screen to see why. So a retired key is taken out before validation, with one warning naming the file,
the key and the fix: a removed one is ignored, a renamed one's value is used under its new name (unless the file
also sets the new name). Never remove an entry: a config written by any released version must still load.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .config import Config

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Retired:
    """A setting an earlier version had: ``now`` is its new dotted name (renamed), None when it was removed."""

    now: str | None
    why: str  # what became of it, for the warning


_GATE_SCHEDULE = "a look schedule of the gated method, off by default, removed as it did not win"
RETIRED: dict[str, Retired] = {
    # 2026-11-23: the kiosk's "ask again later" delay moved to the check-in settings (4f55bd2, b87bea4)
    "kiosk.later_min": Retired("checkin.offer_later_min", "moved to the check-in settings"),
    # 2026-11-23: the speaker tracker's window and rate, the first interruption detector's rules (6945836, ad5743a)
    "detection.speakers.window_ms": Retired(None, "the speaker tracker no longer averages over a window"),
    "detection.speakers.adapt_rate": Retired(None, "the speaker tracker no longer uses a fixed rate"),
    "detection.interruption.jump_db": Retired(None, "a rule of the first interruption detector"),
    "detection.interruption.change_distance": Retired(None, "a rule of the first interruption detector"),
    "detection.interruption.evidence_fraction": Retired(None, "a rule of the first interruption detector"),
    # 2026-12-03: the gated method's adaptive look schedules, written by config init from 03:41 to 06:16 (4f2195c)
    "detection.interruption.gate_backoff": Retired(None, _GATE_SCHEDULE),
    "detection.interruption.gate_rise": Retired(None, _GATE_SCHEDULE),
    "detection.interruption.gate_recheck_ms": Retired(None, _GATE_SCHEDULE),
    "detection.interruption.gate_looks_per_min": Retired(None, _GATE_SCHEDULE),
    "detection.interruption.gate_holder_span_ms": Retired(None, _GATE_SCHEDULE),
}

# Defaults an earlier version had, for the settings whose default changed since: ``config init`` wrote each one
# into the couple's file, where it stays after an update, so the file keeps the old behaviour (a value the couple
# chose is indistinguishable, so nothing is changed: ``voicecoach check`` and ``config check`` say which lines to
# delete). Gathered with ast over every commit's settings modules; the commit is the last one with that default.
PAST_DEFAULTS: dict[str, tuple[Any, ...]] = {
    "commands.anytime": (("pause",),),  # 6945836
    "commands.clap.decay_db": (14.0,),  # 832621a
    "commands.clap.decay_ms": (70,),  # 832621a
    "commands.clap.quiet_after_s": (0.35,),  # 832621a
    "detection.dc_block": (False,),  # b7160f9
    "detection.escalation.combined_events": (3,),  # cfc27f6
    "detection.escalation.interruptions": (3,),  # 32c8539
    "detection.escalation.raised_events": (3,),  # 57389a7
    "detection.escalation.raised_s": (15.0, 3.0),  # bae0cc4, 3d48421
    "detection.interruption.clean_snr_db": (25.0,),  # 57138f1
    "detection.interruption.drift": (-0.35,),  # 4b75f5f
    "detection.interruption.gate_delay_ms": (300,),  # 395f7dd
    "detection.interruption.gate_hold_ms": (300,),  # 395f7dd
    "detection.interruption.gate_idle_ms": (1200,),  # 395f7dd
    "detection.interruption.gate_threshold": (0.2,),  # 8c8948b
    "detection.interruption.gate_voices": (0.5,),  # 8c8948b
    "detection.interruption.method": ("model",),  # 7fe970e: "gated" since
    "detection.interruption.stream_confirm_ms": (30,),  # 0995cf1
    "detection.interruption.stream_equalise": (False,),  # b7160f9
    "detection.interruption.stream_threshold": (0.5,),  # f07dcaa
    "detection.interruption.threshold": (6.0,),  # 3351159
    "detection.interruption.unvoiced_neutral": (False,),  # 4b75f5f
    "detection.raised.adapt_after_s": (20.0,),  # 9b84611
    "detection.raised.baseline_speech_s": (4.0,),  # 1800e7c
    "detection.raised.hold_ms": (550, 700),  # 41e8957, bae0cc4
    "detection.raised.min_change": (1.6,),  # 41e8957
    "detection.raised.over_other_db": (3.0, 1.0),  # 9b84611, 306678a
    "detection.speakers.gap_ms": (240,),  # 3351159
    "detection.speakers.new_partner_distance": (1.2,),  # d971975
    "speech.engines": (("pyttsx3", "espeak-ng"),),  # before 255a397 (Linux: the espeak-ng command first since)
    "speech.synth_timeout_s": (5.0,),  # 81f39fa
}

_warned: set[str] = set()


def upgrade(data: dict[str, Any], where: str) -> tuple[dict[str, Any], list[str]]:
    """``data`` (a parsed config document) without its retired keys, a renamed key's value moved to its new name;
    and one line for each key taken out, naming ``where`` (the file), the key and the fix. ``data`` is not
    changed: the tables on the way to a retired key are copied."""
    notices: list[str] = []
    removed: list[str] = []
    out = data
    for old, retired in RETIRED.items():
        found, value = _lookup(out, old)
        if not found:
            continue
        out = _without(out, old)
        if retired.now is None:
            removed.append(old)
        elif _lookup(out, retired.now)[0]:
            notices.append(f"{where}: {old} is now {retired.now}, which the file also sets; {old} is ignored: "
                           f"delete its line")
        else:
            out = _with(out, retired.now, value)
            table, _, key = retired.now.rpartition(".")
            notices.append(f"{where}: {old} is now {retired.now} ({retired.why}); its value is used: move the "
                           f"line under [{table}] as {key}")
    if len(removed) == 1:
        notices.insert(0, f"{where}: {removed[0]} is no longer a setting (removed in an update: "
                          f"{RETIRED[removed[0]].why}); it is ignored: delete its line")
    elif removed:
        notices.insert(0, f"{where}: {len(removed)} settings were removed in an update and are ignored: "
                          f"{', '.join(removed)} (delete their lines)")
    return out, notices


def warn_once(notices: list[str]) -> None:
    """Log each notice as a warning once per process (the page reads the config again and again)."""
    for notice in notices:
        if notice not in _warned:
            _warned.add(notice)
            log.warning("%s", notice)


def said_elsewhere(notices: list[str]) -> None:
    """The caller shows ``notices`` itself (``voicecoach check``'s WARN lines): loading the file does not log them
    too (each was said twice, once as a log line on stderr and once as the WARN line)."""
    _warned.update(notices)


def _lookup(data: dict[str, Any], dotted: str) -> tuple[bool, Any]:
    """(True, value) when the dotted key is in ``data``, else (False, None)."""
    node: Any = data
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return False, None
        node = node[part]
    return True, node


def _without(data: dict[str, Any], dotted: str) -> dict[str, Any]:
    """A copy of ``data`` (copied along the path only) without the dotted key, which is there."""
    head, _, rest = dotted.partition(".")
    copy = dict(data)
    if rest:
        copy[head] = _without(copy[head], rest)
    else:
        del copy[head]
    return copy


def _with(data: dict[str, Any], dotted: str, value: Any) -> dict[str, Any]:
    """A copy of ``data`` (copied along the path only) with the dotted key set; a missing table is made. A
    non-table on the way is left for validation to refuse."""
    head, _, rest = dotted.partition(".")
    copy = dict(data)
    if not rest:
        copy[head] = value
    elif head not in copy:
        copy[head] = _with({}, rest, value)
    elif isinstance(copy[head], dict):
        copy[head] = _with(copy[head], rest, value)
    return copy


def notices_in(file: Path) -> list[str]:
    """The retired-key lines for the config file ``file`` (none when it cannot be read: loading it says why)."""
    from .errors import InputError
    from .settings import read_toml_file

    try:
        data = read_toml_file(file, "config", "", "")
    except InputError:
        return []
    return upgrade(data, str(file))[1]


def pinned_defaults(data: dict[str, Any], config: "Config") -> list[str]:
    """The settings the parsed file ``data`` sets to an earlier version's default (:data:`PAST_DEFAULTS`) that
    today's default differs from, as ``key = value (now: default)``."""
    from .config import Config, _toml_value

    fresh = Config()
    found: list[str] = []
    for key, olds in PAST_DEFAULTS.items():
        if not _lookup(data, key)[0]:
            continue
        value, now = _attr(config, key), _attr(fresh, key)
        if value != now and value in olds:
            found.append(f"{key} = {_toml_value(value)} (now {_toml_value(now)})")
    return found


def pinned_notice(file: Path, config: "Config") -> str | None:
    """One line naming ``file``'s settings held at an earlier version's default, and the fix; or None."""
    from .errors import InputError
    from .settings import read_toml_file

    try:
        data = read_toml_file(file, "config", "", "")
    except InputError:
        return None
    pinned = pinned_defaults(upgrade(data, str(file))[0], config)
    if not pinned:
        return None
    return (f"{file} keeps {len(pinned)} setting{'s' if len(pinned) != 1 else ''} at an earlier version's default, "
            f"so updates do not change them: {'; '.join(pinned)} (delete those lines to follow today's defaults; "
            f"keep any you chose yourself)")


def _attr(obj: Any, dotted: str) -> Any:
    """The value at a dotted settings name."""
    for part in dotted.split("."):
        obj = getattr(obj, part)
    return obj
