"""Synthetic cohort generation. Public surface: ``api`` and ``events``."""
