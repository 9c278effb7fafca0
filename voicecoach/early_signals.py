"""SIGTERM and SIGHUP that come while a live command is still being set up (its speaker, journal and prompts), kept
until its loop can stop on them (:class:`voicecoach.stop_signals.StopOnSignals`).

Before, one in the first second of ``listen`` or ``kiosk`` (longer on a Pi) killed the process: no line, exit 143
(so systemd's stop of the kiosk was not a clean exit 0), its prompt folder ``/tmp/voicecoach-tts-<pid>-*`` left
behind. Kept, the loop stops as soon as it starts, the way a signal stops it later: the kiosk says "stopping
(SIGTERM)" and "stopped" and exits 0, listen prints its summary. Ctrl-C keeps raising KeyboardInterrupt. A small
module, so that the CLI can set it before it loads anything heavy.
"""

from __future__ import annotations

import signal
from types import FrameType

_KEPT: list[str] = []  # the names of the signals kept so far, first first


def _keep(signum: int, _frame: FrameType | None) -> None:
    _KEPT.append(signal.Signals(signum).name)


def keep_early_stop_signals() -> None:
    """From now on, SIGTERM and SIGHUP are kept instead of killing the process (main thread of a real process only:
    the CLI). A signal someone ignores (nohup) stays ignored."""
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is signal.SIG_DFL:
            signal.signal(signum, _keep)


def early_stop_signal() -> str:
    """The name of the first kept signal ("" if none came): a wait before the loop ends on it."""
    return _KEPT[0] if _KEPT else ""


def take_early_stop_signal() -> str:
    """The name of the first kept signal ("" if none came), forgetting them: the loop now stops on it."""
    first = early_stop_signal()
    _KEPT.clear()
    return first



def release_early_stop_signals() -> str:
    """The command runs no live loop after all (``checkin --to``, an offline rehearsal): SIGTERM and SIGHUP are no
    longer kept (back to their default); returns the name of one kept meanwhile ("" if none), for the caller to end
    on."""
    for name in ("SIGTERM", "SIGHUP"):
        signum = getattr(signal, name, None)
        if signum is not None and signal.getsignal(signum) is _keep:
            signal.signal(signum, signal.SIG_DFL)
    return take_early_stop_signal()
