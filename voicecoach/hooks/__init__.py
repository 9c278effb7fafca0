"""Local hooks: counts-only lifecycle events to an MQTT broker (with Home Assistant discovery) or a local program.

``events`` (the typed hook events and what may leave the box), ``mqtt`` (paho-mqtt, imported only when a broker
is configured), ``command`` (a program run with the event as JSON on stdin, no shell), ``runtime`` (the worker
thread that sends them, so the live loop never waits on a network or a program).
"""
