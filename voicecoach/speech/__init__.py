"""Speaking: text-to-speech rendered to audio and played through the product's own output stream."""
