"""INEsCape: a platform for esophageal cancer data.

Synthetic cohorts, collection from real sources, survival models and clinical decision
support, as modules of one Litestar process. A notebook starts from
``inescape.notebook`` (``from inescape.notebook import generate, fit, stage, load_cohort``).
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("inescape")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+source"

__all__ = ["__version__"]
