"""Clinical core: the esophageal cancer record. Public surface: ``api`` and ``events``."""
