"""The clinical core's HTTP edges beside the record routes (``controllers.py``): the cohort
aggregates (``cohort.py``) and the FHIR export (``fhir.py``)."""
