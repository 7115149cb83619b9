"""What the decision-support endpoints take and give (HTTP bodies). Codes are the clinical
core's value sets (shared/reference/domain.md §1), checked here so a wrong one is a 422 that
names its field before any rule runs."""

from __future__ import annotations

from typing import Annotated

import msgspec

from inescape.modules.cds.api import Grade, Histology, Kind, Location, Strict


class StagingRequest(Strict, frozen=True):
    """T, N and M take the platform's codes, with or without a c/p/yp prefix ("pT3", "ypN1")."""

    kind: Annotated[
        Kind,
        msgspec.Meta(
            description=(
                "Which AJCC 8th edition table: clinical (cTNM), pathological (pTNM) or "
                "post_neoadjuvant (ypTNM)."
            )
        ),
    ]
    histology: Annotated[
        Histology,
        msgspec.Meta(
            description=(
                "squamous_cell_carcinoma, adenocarcinoma or other (other is not staged: a 422 says so)."
            )
        ),
    ]
    t: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=8,
            description="Primary tumour category, TX to T4b, with or without a c/p/yp prefix (pT3).",
        ),
    ]
    n: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=8,
            description="Regional node category, NX, N0 or N1 to N3, with or without a c/p/yp prefix (ypN1).",
        ),
    ]
    m: Annotated[
        str,
        msgspec.Meta(
            min_length=1,
            max_length=8,
            description="Distant metastasis, M0 or M1, with or without a c/p/yp prefix.",
        ),
    ]
    grade: Annotated[
        Grade | None,
        msgspec.Meta(
            description=(
                "Histologic grade G1, G2, G3 or GX; used by pathological staging only, where null "
                "is read as GX (the result's notes say so)."
            )
        ),
    ] = None
    location: Annotated[
        Location | None,
        msgspec.Meta(
            description=(
                "The tumour epicentre (cervical, upper, middle, lower, egj); used only for "
                "pathological squamous cell carcinoma, where null is read as AJCC location X."
            )
        ),
    ] = None
