"""After-action review of a recorded exercise: its picture (tracks, zones, alerts),
the figures trainers look at, and the report."""
