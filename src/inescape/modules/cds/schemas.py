"""What the decision-support endpoints take and give (HTTP bodies). Codes are the clinical
core's value sets (shared/reference/domain.md §1), checked here so a wrong one is a 422 that
names its field before any rule runs."""

from __future__ import annotations

from typing import Annotated

import msgspec

from inescape.modules.cds.api import Grade, Histology, Kind, Location, Strict


class StagingRequest(Strict, frozen=True):
    """T, N and M take the platform's codes, with or without a c/p/yp prefix ("pT3", "ypN1")."""

    kind: Kind
    histology: Histology
    t: Annotated[str, msgspec.Meta(min_length=1, max_length=8)]
    n: Annotated[str, msgspec.Meta(min_length=1, max_length=8)]
    m: Annotated[str, msgspec.Meta(min_length=1, max_length=8)]
    grade: Grade | None = None
    location: Location | None = None
