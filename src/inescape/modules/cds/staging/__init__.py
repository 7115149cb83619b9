"""AJCC 8th edition (2017) staging of esophageal and esophagogastric junction carcinoma, chapter 16.

Pure Python, no I/O: ``stage(...)`` returns a ``StageResult`` naming the table and row that applied
and every decision taken, or raises ``StagingError`` naming the inputs to fix. ``TABLES`` holds the
printed tables as data, keyed by (kind, scheme).

Sources: Amin MB et al. (eds), AJCC Cancer Staging Manual, 8th ed., Springer 2017, ch. 16;
Rice TW et al., J Thorac Oncol 2017;12(1):36-42; Rice TW, Patil DT, Blackstone EH, Ann Cardiothorac
Surg 2017;6(2):119-130; NCI PDQ Esophageal Cancer Treatment (HP); SEER EOD 2018 (shared/reference/
domain.md §1). The decisions the tables leave open are listed in ``engine``.
"""

from __future__ import annotations

from inescape.modules.cds.api import StageResult, StagingError
from inescape.modules.cds.staging.engine import stage
from inescape.modules.cds.staging.tables import STAGE_GROUPS, TABLES, Row, Table

__all__ = ["STAGE_GROUPS", "TABLES", "Row", "StageResult", "StagingError", "Table", "stage"]
