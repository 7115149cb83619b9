"""Gateway: accounts, tokens, RBAC, rate limits, audit query API. Public surface: ``api`` and ``events``."""
