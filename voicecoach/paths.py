"""Where voicecoach keeps its config and private data (overridable for tests and the kiosk)."""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "voicecoach"


def config_dir() -> Path:
    """The user config directory (``$VOICECOACH_CONFIG_DIR`` overrides it)."""
    override = os.environ.get("VOICECOACH_CONFIG_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_config_dir(APP_NAME, appauthor=False))


def data_dir() -> Path:
    """The user data directory for the journal, voice notes and models (``$VOICECOACH_DATA_DIR`` overrides it)."""
    override = os.environ.get("VOICECOACH_DATA_DIR")
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME, appauthor=False))


def config_file() -> Path:
    """The default config file path."""
    return config_dir() / "config.toml"
