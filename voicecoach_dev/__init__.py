"""Development kit shared by ``tests/`` and ``scripts/``: never imported by the product itself.

- :mod:`voicecoach_dev.audio_server`: a private PulseAudio daemon with a virtual microphone and speaker;
- :mod:`voicecoach_dev.live`: running the CLI as a live subprocess, rendering conversations, hearing the speaker;
- :mod:`voicecoach_dev.evalkit`: the dev-set builder (talks mixed from ``../shared/data`` with exact truth) and scoring.

It is installed (editable) with the package so both folders import it without ``sys.path`` edits; its outside
libraries (pyroomacoustics, PyTorch) are dev extras, imported lazily where used.
"""
