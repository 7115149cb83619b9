"""Clinical decision support. Public surface: ``api`` and ``events``."""
