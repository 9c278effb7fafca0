"""The detection engine: per-frame features, who is speaking, raised voices, interruptions, escalation."""
