"""Subcommands: one module each, with ``register(subparsers, common)`` and an ``ORDER`` for the help."""

from __future__ import annotations

import argparse

from ..config import Config, load_config


def config_of(args: argparse.Namespace) -> Config:
    """The config named by ``--config`` (or the user's default file)."""
    return load_config(getattr(args, "config", None))
