"""Audio in and out: fixed frames stamped with audio time, WAV files, sound devices."""
