"""Client library and CLI for hotline stations."""
