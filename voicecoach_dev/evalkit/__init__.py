"""Evaluation kit: the dev set builder, the scorer and their helpers (used by scripts/evaluate and scripts/bench)."""
