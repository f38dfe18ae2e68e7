"""sciarch_tracks: the tracks plugin."""
