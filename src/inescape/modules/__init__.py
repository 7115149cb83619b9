"""One package per module; each is a future service (see DESIGN.md)."""
