"""Every query of the clinical core; never commits.

``rows``: a record as table rows; ``bulk``: many records at once (COPY on PostgreSQL);
``reads``: records, list rows and filters; ``writes``: changes in the caller's transaction;
``names``: the blind index of names (terms written with every record, what name search reads).
"""

from __future__ import annotations

from inescape.modules.patients.repository.bulk import COPY_MIN_RECORDS, insert_records
from inescape.modules.patients.repository.names import (
    insert_terms,
    reindex_names,
    replace_terms,
    term_rows,
    unindexed,
)
from inescape.modules.patients.repository.reads import (
    SourceRow,
    by_research_id,
    filtered,
    find_by_source,
    is_live,
    load,
    matching_ids,
    one_stamped,
    page,
    record_of,
    research_page,
    stage_group_of,
    stamp,
    summary_of,
    unstamp_all,
    unstamped,
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
    "by_research_id",
    "child_rows",
    "filtered",
    "find_by_source",
    "fitness_columns",
    "insert_records",
    "insert_terms",
    "is_live",
    "load",
    "lookup_index",
    "matching_ids",
    "one_stamped",
    "outcome_columns",
    "page",
    "patient_row",
    "record_of",
    "reindex_names",
    "replace_children",
    "replace_record",
    "replace_terms",
    "research_page",
    "soft_delete",
    "stage_group_of",
    "stamp",
    "summary_columns",
    "summary_of",
    "term_rows",
    "touch",
    "unindexed",
    "unstamp_all",
    "unstamped",
    "update_primary_condition",
]
