"""A small MQTT 3.1.1 publisher: connect (with a last will), publish at QoS 0, ping, disconnect. Nothing else.

Why not paho-mqtt: its client opens a TCP listening socket on 127.0.0.1 for an internal wake-up pair
(``_socketpair_compat``), so a traced kiosk would show a listening socket the couple never configured, and the
privacy test could no longer say "only the page's address and the broker". Publishing at QoS 0 needs four packet
types; they are encoded here and tested against a real Mosquitto broker. No subscriptions, no TLS (a home broker
on the local network; the events hold no words and no audio).

Packet layout: MQTT Version 3.1.1, OASIS Standard, sections 2 (fixed header, remaining length) and 3.1-3.14.
"""

from __future__ import annotations

import socket
import struct

from .settings import BrokerAddress

CONNECT, CONNACK, PUBLISH, PINGREQ, PINGRESP, DISCONNECT = 1, 2, 3, 12, 13, 14
CONNACK_ERRORS = {1: "the broker does not speak MQTT 3.1.1", 2: "the broker refused the client id",
                  3: "the broker is unavailable", 4: "the broker refused the user name or password",
                  5: "the broker refused the connection (not authorised)"}


class MqttError(Exception):
    """The broker cannot be reached, refused us, or the connection broke."""


class MqttRefused(MqttError):
    """The broker answered but refused the connection (credentials, client id, protocol): retrying will not help."""


def remaining_length(n: int) -> bytes:
    """The variable-length encoding of a packet's remaining length (1-4 bytes, 7 bits each)."""
    if not 0 <= n <= 268_435_455:
        raise ValueError(f"MQTT packet too long: {n} bytes")
    out = bytearray()
    while True:
        n, digit = divmod(n, 128)
        out.append(digit | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _string(text: str | bytes) -> bytes:
    data = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack(">H", len(data)) + data


def _packet(kind: int, flags: int, body: bytes) -> bytes:
    return bytes([kind << 4 | flags]) + remaining_length(len(body)) + body


def connect_packet(client_id: str, keepalive_s: int, will: tuple[str, bytes] | None = None,
                   username: str | None = None, password: str | None = None) -> bytes:
    """CONNECT with a clean session, an optional retained QoS-0 last will, user name and password."""
    flags = 0x02  # clean session
    payload = _string(client_id)
    if will is not None:
        flags |= 0x04 | 0x20  # will flag, will retain (QoS 0)
        payload += _string(will[0]) + _string(will[1])
    if username is not None:
        flags |= 0x80
        payload += _string(username)
        if password is not None:
            flags |= 0x40
            payload += _string(password)
    return _packet(CONNECT, 0, _string("MQTT") + bytes([4, flags]) + struct.pack(">H", keepalive_s) + payload)


def publish_packet(topic: str, payload: bytes, retain: bool = False) -> bytes:
    """PUBLISH at QoS 0 (no packet id, no acknowledgement)."""
    return _packet(PUBLISH, 0x01 if retain else 0, _string(topic) + payload)


PINGREQ_PACKET = _packet(PINGREQ, 0, b"")
DISCONNECT_PACKET = _packet(DISCONNECT, 0, b"")


class Connection:
    """One TCP connection to the broker. Blocking calls with a timeout; the caller owns the thread."""

    def __init__(self, address: BrokerAddress, client_id: str, keepalive_s: int, will: tuple[str, bytes] | None,
                 timeout_s: float = 5.0) -> None:
        self.address = address
        self._sock: socket.socket | None = None
        try:
            self._sock = socket.create_connection((address.host, address.port), timeout=timeout_s)
            self._sock.sendall(connect_packet(client_id, keepalive_s, will, address.username, address.password))
            kind, body = self._read_packet()
        except OSError as exc:
            self.close()
            raise MqttError(f"cannot reach the MQTT broker at {address.host}:{address.port} "
                            f"({exc.strerror or exc})") from None
        if kind != CONNACK or len(body) != 2 or body[1] != 0:
            self.close()
            code = body[1] if kind == CONNACK and len(body) == 2 else -1
            raise MqttRefused(f"MQTT broker {address.host}:{address.port}: "
                              f"{CONNACK_ERRORS.get(code, 'an unexpected answer to CONNECT')}")

    def _recv_exact(self, n: int) -> bytes:
        assert self._sock is not None
        data = b""
        while len(data) < n:
            chunk = self._sock.recv(n - len(data))
            if not chunk:
                raise OSError("the broker closed the connection")
            data += chunk
        return data

    def _read_packet(self) -> tuple[int, bytes]:
        first = self._recv_exact(1)[0]
        length, shift = 0, 0
        while True:
            byte = self._recv_exact(1)[0]
            length |= (byte & 0x7F) << shift
            if not byte & 0x80:
                break
            shift += 7
            if shift > 21:
                raise OSError("a malformed packet from the broker")
        return first >> 4, self._recv_exact(length)

    def publish(self, topic: str, payload: bytes, retain: bool = False) -> None:
        """Send one message (QoS 0); MqttError when the connection is gone."""
        self._send(publish_packet(topic, payload, retain))

    def ping(self) -> None:
        """PINGREQ, and wait for the PINGRESP (the keep-alive); MqttError when the broker is gone."""
        self._send(PINGREQ_PACKET)
        try:
            kind, _ = self._read_packet()
        except OSError as exc:
            self.close()
            raise MqttError(f"the MQTT broker stopped answering ({exc})") from None
        if kind != PINGRESP:
            self.close()
            raise MqttError(f"the MQTT broker answered a ping with packet type {kind}")

    def _send(self, data: bytes) -> None:
        if self._sock is None:
            raise MqttError("not connected to the MQTT broker")
        try:
            self._sock.sendall(data)
        except OSError as exc:
            self.close()
            raise MqttError(f"the connection to the MQTT broker broke ({exc.strerror or exc})") from None

    def disconnect(self) -> None:
        """A clean goodbye (the broker then does not send the last will), and close."""
        if self._sock is not None:
            try:
                self._sock.sendall(DISCONNECT_PACKET)
            except OSError:
                pass
        self.close()

    def close(self) -> None:
        """Close the socket (safe to call twice)."""
        if self._sock is not None:
            try:
                self._sock.close()
            finally:
                self._sock = None

    def closed_by_broker(self) -> bool:
        """True when the broker has closed this connection (it stopped or restarted): data sent now would be lost.

        Looks without waiting: the broker sends nothing unasked (no subscriptions), so anything readable is its
        goodbye (end of stream) or an error."""
        if self._sock is None:
            return True
        timeout = self._sock.gettimeout()
        self._sock.setblocking(False)  # not select(): it fails on a descriptor above 1023
        try:
            return self._sock.recv(1, socket.MSG_PEEK) == b""
        except BlockingIOError:  # nothing to read: open
            return False
        except OSError:  # reset by the broker
            return True
        finally:
            self._sock.settimeout(timeout)

    @property
    def connected(self) -> bool:
        """True until the connection is closed or found broken."""
        return self._sock is not None


def probe_broker(address: BrokerAddress, client_id: str, timeout_s: float = 3.0) -> None:
    """Connect once (no last will, nothing published) and say goodbye; MqttError (MqttRefused) when it cannot."""
    Connection(address, client_id, keepalive_s=10, will=None, timeout_s=timeout_s).disconnect()
