"""housing service."""
