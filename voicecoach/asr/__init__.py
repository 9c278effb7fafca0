"""Hearing commands: vosk grammar recognition, language packs, and the double-clap signal."""
