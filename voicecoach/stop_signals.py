"""SIGINT, SIGTERM and SIGHUP set a :class:`threading.Event` instead of killing: how ``listen``, the kiosk, the demo
and ``voicecoach web`` end cleanly (the talk stored, the devices closed).

The event is set by a thread, never by the signal handler itself. Python runs a handler on the main thread between
two of its bytecodes, and the main thread spends its time in ``stop.wait(...)``: when the signal landed while that
thread held the event's own lock (inside ``Event.wait``, a few bytecodes each turn), ``stop.set()`` in the handler
waited for that lock, held by the very thread it had interrupted, for ever, and the program never ended (made
certain with a main thread in ``stop.wait(0)``: 101 of 200 SIGTERMs). The handler only puts the signal in a
:class:`queue.SimpleQueue`, whose ``put`` is reentrant by design (its documentation says so: safe from code that
interrupts a ``put`` or ``get`` in the same thread), and a daemon thread sets the event.
"""

from __future__ import annotations

import queue
import signal
import threading
from types import FrameType
from typing import Any

from .early_signals import take_early_stop_signal

STOP_SIGNALS = ("SIGINT", "SIGTERM", "SIGHUP")
SETTER_JOIN_S = 1.0  # at exit: how long the setter thread may take to end (it ends at once)


class StopOnSignals:
    """While active, SIGINT, SIGTERM and SIGHUP set ``stop`` (remembering which came first) instead of killing; one
    that came before (:func:`voicecoach.early_signals.keep_early_stop_signals`) sets it at once.

    Outside the main thread (where no handler can be installed) it handles no signal."""

    def __init__(self, stop: threading.Event) -> None:
        self.stop = stop
        self.received = ""
        self._saved: dict[int, Any] = {}
        self._arrived: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._setter: threading.Thread | None = None

    def _handle(self, signum: int, _frame: FrameType | None) -> None:
        # no lock may be taken here (see the module): an attribute and a reentrant put only
        if not self.received:
            self.received = signal.Signals(signum).name
        self._arrived.put(signum)

    def _set_on_signal(self) -> None:
        """The setter thread: set ``stop`` for each signal that arrives, until :meth:`__exit__` says it is over."""
        while self._arrived.get() is not None:
            self.stop.set()

    def __enter__(self) -> "StopOnSignals":
        if threading.current_thread() is threading.main_thread():
            self._setter = threading.Thread(target=self._set_on_signal, name="voicecoach-signals", daemon=True)
            self._setter.start()
            for name in STOP_SIGNALS:
                signum = getattr(signal, name, None)
                if signum is not None:
                    self._saved[signum] = signal.signal(signum, self._handle)
        early = take_early_stop_signal()
        if early:  # stopped while it was being set up (keep_early_stop_signals): the loop ends as soon as it starts
            self.received = self.received or early
            self.stop.set()
        return self

    def __exit__(self, *exc: object) -> None:
        for signum, handler in self._saved.items():
            signal.signal(signum, handler)
        self._saved.clear()
        if self._setter is not None:
            self._arrived.put(None)  # after any signal that came before the handlers were put back
            self._setter.join(SETTER_JOIN_S)
            self._setter = None
