"""Connectors: where collected records come from. ``base`` holds the protocol and registry."""
