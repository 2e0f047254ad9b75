"""The hotline service."""
