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
from typing import Any

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
