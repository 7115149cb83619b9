"""Adapters to the outside world; each port has a real and an embedded implementation."""
