"""The hooks' threads: events are queued by the live loop (never waiting) and sent by one worker per hook.

The MQTT worker keeps one connection to the broker: it announces the kiosk (Home Assistant discovery, ``online``),
publishes each event and the updated state, pings to keep the connection alive, and reconnects with a growing
wait (2 s up to a minute); a connection the broker closed (it restarted) is noticed before the next event is sent,
and opened again at once. While the broker is down, events are dropped: one log line when it goes, one when it
is back (saying how many were dropped). The program hook runs the configured program per event. A full queue
drops the event too (the kiosk never waits for its hooks).
"""

from __future__ import annotations

import json
import logging
import queue
import socket
import threading
import time
from typing import Any, Callable

from ..clock import LocalTime
from .command import CommandHook
from .events import HomeState, HookEvent, HookKind, allowed
from .ha import Message, discovery, topics_for
from .mqtt import Connection, MqttError, MqttRefused
from .settings import HookSettings, parse_mqtt_url

log = logging.getLogger(__name__)

QUEUE_EVENTS = 200
KEEPALIVE_S = 60
RETRY_MIN_S, RETRY_MAX_S = 2.0, 60.0
CLOSE_S = 2.0  # at the end, the hooks' last events and goodbye are waited for this long in all, never longer
_STOP = object()
GOODBYE = object()  # queued last: say offline and disconnect


class _Worker:
    """A daemon thread draining a bounded queue into ``handle``; ``idle`` runs when nothing came for a while."""

    def __init__(self, name: str, handle: Callable[[Any], None], idle: Callable[[], float]) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(QUEUE_EVENTS)
        self._handle = handle
        self._idle = idle
        self._full_logged = False
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)

    def start(self) -> None:
        """Start the thread."""
        self._thread.start()

    def put(self, item: Any) -> None:
        """Queue ``item`` without waiting; a full queue drops it (logged once until it drains)."""
        try:
            self._queue.put_nowait(item)
            self._full_logged = False
        except queue.Full:
            if not self._full_logged:
                log.warning("hooks: %s is not keeping up; events are dropped", self._thread.name)
                self._full_logged = True

    def _run(self) -> None:
        wait_s = 0.0
        while True:
            try:
                item = self._queue.get(timeout=max(wait_s, 0.05))
            except queue.Empty:
                item = None
            if item is _STOP:
                return
            try:
                if item is not None:
                    self._handle(item)
                wait_s = self._idle()
            except Exception:  # noqa: BLE001 - a hook must never take the kiosk down
                log.exception("hooks: %s failed", self._thread.name)
                wait_s = RETRY_MAX_S

    def stop(self, deadline: float) -> bool:
        """Ask the thread to finish what is queued and stop; waits until ``deadline`` (``time.monotonic()``) at
        most. True when it stopped; a thread still waiting for the network (a broker that does not answer) is left
        behind (a daemon: it never holds the process)."""
        try:
            self._queue.put(_STOP, timeout=max(0.0, deadline - time.monotonic()))
        except queue.Full:
            return False
        self._thread.join(max(0.0, deadline - time.monotonic()))
        return not self._thread.is_alive()


class MqttPublisher:
    """Publishes events and the kiosk's state to the broker, with Home Assistant discovery."""

    def __init__(self, settings: HookSettings, hostname: str, local: LocalTime | None = None) -> None:
        self.settings = settings
        self.local = local or LocalTime()  # "today" and event dates in the zone set now, not at the start
        self.address = parse_mqtt_url(settings.mqtt)
        self.topics = topics_for(settings, hostname)
        self.hostname = hostname
        self.state = HomeState()
        self.dropped = 0
        self.sent = 0
        self._conn: Connection | None = None
        self._closed = False  # after goodbye: never reconnect
        self._down_since_logged = False
        self._retry_s = RETRY_MIN_S
        self._next_attempt = 0.0
        self._last_ping = 0.0
        self.worker = _Worker("voicecoach-hooks-mqtt", self._handle, self._idle)

    # --- the worker thread --------------------------------------------------------------------------------------

    def _connect(self) -> Connection | None:
        """The open connection, opening it (and announcing) when due; None while the broker is down."""
        now = time.monotonic()
        if self._conn is not None:
            return self._conn
        if self._closed or now < self._next_attempt:
            return None
        try:
            conn = self._conn = Connection(self.address, self.topics.node, KEEPALIVE_S,
                                           (self.topics.availability, b"offline"))
            for message in self._announcement():
                conn.publish(message.topic, message.payload, message.retain)
        except MqttError as exc:
            self._conn = None
            self._next_attempt = now + self._retry_s
            self._retry_s = min(self._retry_s * 2, RETRY_MAX_S)
            if not self._down_since_logged:
                if isinstance(exc, MqttRefused):  # it is there and said no: waiting alone will not fix it
                    log.warning("hooks: %s; fix the user name or password in [hooks] mqtt, or the broker's users "
                                "(voicecoach check says when it accepts voicecoach); events are dropped until then",
                                exc)
                else:
                    log.warning("hooks: %s; events are dropped until it is back", exc)
                self._down_since_logged = True
            return None
        self._retry_s = RETRY_MIN_S
        self._last_ping = now
        if self._down_since_logged:
            log.info("hooks: the MQTT broker at %s:%d is back (%d events were dropped meanwhile)",
                     self.address.host, self.address.port, self.dropped)
            self._down_since_logged = False
        else:
            log.info("hooks: publishing to the MQTT broker at %s:%d (topic %s)", self.address.host,
                     self.address.port, self.topics.base)
        return conn

    def _announcement(self) -> list[Message]:
        return [*discovery(self.settings, self.topics, self.hostname),
                Message(self.topics.availability, b"online", True), self._state_message()]

    def _state_message(self) -> Message:
        return Message(self.topics.state, json.dumps(self.state.to_dict(self.settings.details),
                                                     sort_keys=True).encode("utf-8"), True)

    def _handle(self, event: Any) -> None:
        if event is GOODBYE:
            self.goodbye()
            return
        self.state.apply(event, self.local.at)
        if self._conn is not None and self._conn.closed_by_broker():
            # the broker restarted (a Home Assistant update): this event would vanish into the closed connection,
            # so connect again at once rather than after the back-off
            log.info("hooks: the MQTT broker at %s:%d closed the connection; connecting again", self.address.host,
                     self.address.port)
            self._conn.close()
            self._conn = None
            self._next_attempt = 0.0
        conn = self._connect()
        if conn is None:
            self.dropped += 1
            return
        payload = json.dumps(event.to_dict(self.settings.details, self.local.at), sort_keys=True).encode("utf-8")
        try:
            conn.publish(self.topics.event, payload)
            conn.publish(*_fields(self._state_message()))
            self.sent += 1
        except MqttError as exc:
            self._lost(exc)
            self.dropped += 1

    def _idle(self) -> float:
        """Reconnect, keep the connection alive, start a new day's counts; returns how long to wait."""
        if self.state.roll_over(self.local.now().date()) and self._conn is not None:
            self._publish_quietly(self._state_message())
        conn = self._connect()
        if conn is None:
            return 3600.0 if self._closed else max(self._next_attempt - time.monotonic(), 0.5)
        if time.monotonic() - self._last_ping >= KEEPALIVE_S / 2:
            try:
                conn.ping()
                self._last_ping = time.monotonic()
            except MqttError as exc:
                self._lost(exc)
                return RETRY_MIN_S
        return KEEPALIVE_S / 2

    def _publish_quietly(self, message: Message) -> None:
        if self._conn is None:
            return
        try:
            self._conn.publish(*_fields(message))
        except MqttError as exc:
            self._lost(exc)

    def _lost(self, exc: MqttError) -> None:
        self._conn = None
        self._next_attempt = time.monotonic() + RETRY_MIN_S
        if not self._down_since_logged:
            log.warning("hooks: %s; events are dropped until it is back", exc)
            self._down_since_logged = True

    def goodbye(self) -> None:
        """Say ``offline`` (retained) and disconnect cleanly (runs on the worker thread at the end)."""
        self._closed = True
        if self._conn is not None:
            self._publish_quietly(Message(self.topics.availability, b"offline", True))
            if self._conn is not None:
                self._conn.disconnect()
            self._conn = None


def _fields(message: Message) -> tuple[str, bytes, bool]:
    return message.topic, message.payload, message.retain


class Hooks:
    """The hooks the couple configured: ``send()`` from any thread, ``close()`` at the end."""

    def __init__(self, settings: HookSettings, hostname: str | None = None, local: LocalTime | None = None) -> None:
        """``local``: the local time that dates events and starts "today" (:class:`LocalTime`, which follows a time
        zone set while the kiosk runs; its ``wall`` the clock events are stamped with)."""
        self.settings = settings
        self.local = local or LocalTime()
        self.mqtt = MqttPublisher(settings, hostname or socket.gethostname(), self.local) if settings.mqtt else None
        self.command = CommandHook(settings.command, settings.command_timeout_s) if settings.command else None
        self._command_worker = _Worker("voicecoach-hooks-command", self._run_command, lambda: 3600.0) \
            if self.command else None

    def start(self) -> "Hooks":
        """Start the worker threads (the broker is connected on the MQTT worker, never on the caller's thread)."""
        if self.mqtt is not None:
            self.mqtt.worker.start()
            self.mqtt.worker.put(None)  # connect now rather than at the first event
        if self._command_worker is not None:
            self._command_worker.start()
        return self

    def send(self, kind: HookKind, **fields: Any) -> None:
        """Queue an event of ``kind`` stamped with the wall time now (``local``'s: a rehearsal's pretended time), with
        details only if the couple allows them."""
        event = HookEvent(kind, self.local.wall(), **fields)
        if not allowed(event, self.settings.details):
            return
        if self.mqtt is not None:
            self.mqtt.worker.put(event)
        if self._command_worker is not None:
            self._command_worker.put(event)

    def _run_command(self, event: HookEvent) -> None:
        assert self.command is not None
        self.command.send(event.to_dict(self.settings.details, self.local.at))

    def close(self, timeout_s: float = CLOSE_S, program_s: float = 5.0) -> None:
        """Send what is queued, say goodbye to the broker, stop the threads. The broker is waited for ``timeout_s``
        at most (one that does not answer, e.g. frozen, added 5 s to the kiosk's stop; its last will says
        ``offline`` for a kiosk that left without its goodbye); a hook program still running, ``program_s``."""
        if self.mqtt is not None:
            self.mqtt.worker.put(GOODBYE)
            if not self.mqtt.worker.stop(time.monotonic() + timeout_s):
                log.info("hooks: the MQTT broker at %s:%d did not answer within %.0f s; stopping without waiting "
                         "for it", self.mqtt.address.host, self.mqtt.address.port, timeout_s)
        if self._command_worker is not None:
            self._command_worker.stop(time.monotonic() + program_s)
