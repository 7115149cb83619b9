"""Every query of the clinical core; never commits.

``rows``: a record as table rows; ``bulk``: many records at once (COPY on PostgreSQL);
``reads``: records, list rows and filters; ``writes``: changes in the caller's transaction.
"""

from __future__ import annotations

from inescape.modules.patients.repository.bulk import COPY_MIN_RECORDS, insert_records
from inescape.modules.patients.repository.reads import (
    SourceRow,
    filtered,
    find_by_source,
    is_live,
    load,
    matching_ids,
    page,
    record_of,
    summary_of,
)
from inescape.modules.patients.repository.rows import (
    CHILD_TYPES,
    child_rows,
    fitness_columns,
    lookup_index,
    outcome_columns,
    patient_row,
    summary_columns,
)
from inescape.modules.patients.repository.writes import (
    add_child,
    replace_children,
    replace_record,
    soft_delete,
    touch,
    update_primary_condition,
)

__all__ = [
    "CHILD_TYPES",
    "COPY_MIN_RECORDS",
    "SourceRow",
    "add_child",
    "child_rows",
    "filtered",
    "find_by_source",
    "fitness_columns",
    "insert_records",
    "is_live",
    "load",
    "lookup_index",
    "matching_ids",
    "outcome_columns",
    "page",
    "patient_row",
    "record_of",
    "replace_children",
    "replace_record",
    "soft_delete",
    "summary_columns",
    "summary_of",
    "touch",
    "update_primary_condition",
]
