"""The web dashboard: a single-page app built from ``frontend/`` into ``static/``."""
