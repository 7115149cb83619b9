"""Building the platform from settings, and its start-up and shutdown.

Shared by the two composition roots, ``app.py`` (the web process) and ``worker.py``; notebooks,
the CLI and backups build their backends through the same functions. ``wiring`` turns settings
into stores, the key ring and the platform; ``process`` holds the ``Runtime`` that binds the
modules on that platform and starts and stops them.
"""

from inescape.runtime.process import BACKEND_SETTING, Runtime, served_specs
from inescape.runtime.wiring import (
    Stores,
    build_platform,
    embedded_key_file,
    install_field_cipher,
    key_ring,
    library,
    open_cohort_reader,
    open_stores,
)

__all__ = [
    "BACKEND_SETTING",
    "Runtime",
    "Stores",
    "build_platform",
    "embedded_key_file",
    "install_field_cipher",
    "key_ring",
    "library",
    "open_cohort_reader",
    "open_stores",
    "served_specs",
]
