"""The collection module's HTTP edges: connectors, uploads, jobs and their reject reports
(``collect.py``), and collections on a schedule (``schedules.py``)."""
