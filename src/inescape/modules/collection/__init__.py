"""Collection from real sources. Public surface: ``api`` and ``events``."""
