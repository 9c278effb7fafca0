"""Hearing commands: vosk grammar recognition, language packs, and the double-clap signal.

- :mod:`.lang` — TOML language packs (command -> phrases) and ``match_command(text)``.
- :mod:`.recognizer` — the only vosk importer: ``VoskModel``, ``VoskRecognizer(model, phrases)`` -> ``Transcript``.
- :mod:`.clap` — ``DoubleClapDetector.process(frame) -> [Command]`` (pure, no model needed).
- :mod:`.listener` — ``CommandDecoder`` (transcripts -> commands) and ``CommandListener`` (recognizer + clap).
- :mod:`.models` — the model catalogue, where models live, ``find_model(settings)``, ``download(info)``.
"""
