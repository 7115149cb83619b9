"""Survival and risk model training. Public surface: ``api`` and ``events``."""
