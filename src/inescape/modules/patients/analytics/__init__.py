"""Cohort analytics for the clinical core: counts, ages and survival, with pictures.

Pure functions over polars frames, for notebooks and the API alike:

- ``counts``, ``age_distribution``, ``age_summary``: who is in the cohort;
- ``kaplan_meier``, ``number_at_risk``, ``median_survival``, ``log_rank``, ``hazard_ratios``:
  how long they live (``summarise_curve``: a curve's steps only, for a small answer);
- ``compare_cohorts``: two cohorts' survival side by side, tested against each other even
  when they share patients;
- ``km_svg``, ``histogram_svg``: the same as self-contained SVG pictures (drawn with matplotlib).

Bad input raises ``inescape.kernel.errors.Invalid`` naming the column to fix.
"""

from __future__ import annotations

from inescape.modules.patients.analytics.comparison import compare_cohorts
from inescape.modules.patients.analytics.cox import hazard_ratios
from inescape.modules.patients.analytics.descriptive import age_distribution, age_summary, counts
from inescape.modules.patients.analytics.distributions import chi2_log10_sf, chi2_sf, regularized_gamma_q
from inescape.modules.patients.analytics.histogram_plot import histogram_svg
from inescape.modules.patients.analytics.km_plot import km_svg
from inescape.modules.patients.analytics.log_rank import log_rank
from inescape.modules.patients.analytics.survival import (
    kaplan_meier,
    median_survival,
    number_at_risk,
    summarise_curve,
)

__all__ = [
    "age_distribution",
    "age_summary",
    "chi2_log10_sf",
    "chi2_sf",
    "compare_cohorts",
    "counts",
    "hazard_ratios",
    "histogram_svg",
    "kaplan_meier",
    "km_svg",
    "log_rank",
    "median_survival",
    "number_at_risk",
    "regularized_gamma_q",
    "summarise_curve",
]
