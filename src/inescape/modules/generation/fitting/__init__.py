"""Profiles fitted to a stored cohort: the generator's parameters estimated from real patients,
optionally under ε-differential privacy, shrunk toward a published profile where the cohort is
small; the privacy and utility report of a dataset generated from one; its release gate.

frame = cohort_frame(tables)                       # one row per patient, from PatientsApi tables
fitted = fit_profile(prior, frame, name="site-a", tables=generator.tables, epsilon=1.0)
fitted.profile                                     # a ``Profile`` the generator takes as it is
to_toml(fitted.profile)                            # its text, as the shipped profiles are written
"""
