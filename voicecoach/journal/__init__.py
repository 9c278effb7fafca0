"""The private journal (SQLite, no audio, no transcripts), reports and opt-in voice notes."""
