"""Demo rows (filled below)."""
