"""Timed check-ins: TOML scripts and the pure runner that talks a couple through them."""
