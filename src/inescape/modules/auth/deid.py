"""De-identification by HIPAA Safe Harbor (45 CFR 164.514(b)(2)) for researchers and exports.

The gateway applies one ``Deidentifier`` to every patient response a ``researcher`` receives
and to every export. It walks any JSON-like record and decides per field, by a ``DeidPolicy``
keyed on field names, because the patient model is defined elsewhere and will grow:

- names, contact details (phone, fax, email, URL, IP), identifying numbers (MRN, national id,
  SSN, insurance, account, licence, device, ``*_id``) and free text are removed;
- geographic units below state/province (street, city, district, coordinates) are removed;
  postal codes keep their first 3 digits, or ``"000"`` for the sparsely populated US ZIP3s;
- dates are shifted by a per-patient offset of 1 to 365 days either way, the same for every
  date of that patient, so intervals survive exactly (``date_mode="shift"``); or reduced to
  their year (``date_mode="year"``);
- a birth date becomes ``birth_year``; a patient over 89 gets ``age_group: "90+"`` and no
  year at all, and every age over 89 becomes ``"90+"``;
- ``research_id`` (``R-`` + HMAC-SHA256 of the patient id) replaces the patient's ids: stable
  across calls and exports, not reversible without the secret.

Fail closed: a field the policy does not know keeps its value only when the value cannot
identify anyone by itself: booleans, nulls and numbers below a million (measurements, scores,
counts; longer numbers may be phone numbers, record numbers or epoch timestamps). Unknown
strings are dropped, except ISO dates, which are shifted like any date. So a clinical text
field a later issue adds disappears until it is named ``keep`` in the policy; it never leaks.
Keys are field names, not data: a mapping keyed by dates or MRNs must be reshaped first.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable, Iterable, Iterator, Mapping
from datetime import UTC, date, timedelta
from typing import Any, Final

from inescape.kernel.clock import Clock, SystemClock
from inescape.modules.auth.api import DEFAULT_POLICY, DateMode, DeidentificationInvalid, DeidPolicy, Principal
from inescape.modules.auth.deid_walk import Rules, Walk

RESEARCH_ID_PREFIX: Final = "R-"
MAX_SHIFT_DAYS: Final = 365
MIN_SECRET_BYTES: Final = 16
_RESEARCH_ID_HEX = 16  # 64 bits: collisions stay unlikely far beyond any cohort size


class Deidentifier:
    """Safe Harbor de-identification with a secret key for research ids and date offsets.

    The same ``secret`` must be used everywhere (API responses, exports, every replica), or
    one patient gets several research ids and offsets.
    """

    def __init__(
        self,
        secret: bytes,
        *,
        date_mode: DateMode = "shift",
        policy: DeidPolicy = DEFAULT_POLICY,
        clock: Clock | None = None,
    ) -> None:
        if not isinstance(secret, bytes) or len(secret) < MIN_SECRET_BYTES:
            raise DeidentificationInvalid(f"the secret must be at least {MIN_SECRET_BYTES} bytes")
        if date_mode not in ("shift", "year"):
            raise DeidentificationInvalid(f"date_mode must be 'shift' or 'year', not {date_mode!r}")
        self._keyed = hmac.new(secret, digestmod=hashlib.sha256)  # copied per id: no key setup
        self.date_mode: DateMode = date_mode
        self.policy = policy
        self._rules = Rules(policy)
        self._clock = clock or SystemClock()

    def research_id(self, patient_id: str) -> str:
        """The pseudonym that stands for ``patient_id`` in everything a researcher sees."""
        return RESEARCH_ID_PREFIX + self._mac(b"research-id", patient_id)[:_RESEARCH_ID_HEX]

    def deidentify(
        self, record: Mapping[str, Any], *, patient_id: str, as_of: date | None = None
    ) -> dict[str, Any]:
        """A de-identified, JSON-friendly copy of ``record``; ``record`` is left as it was.

        ``as_of`` is the day ages are reckoned on (today by default).
        """
        if not isinstance(record, Mapping):
            raise DeidentificationInvalid("a record to de-identify must be a mapping")
        walk = Walk(
            self._rules,
            mode=self.date_mode,
            offset=self.date_offset(patient_id),
            as_of=as_of or self._clock.now().astimezone(UTC).date(),
            keep_unknown_text=self.policy.unknown_text == "keep",
        )
        body = walk.mapping(record, ())
        body.pop("research_id", None)
        return {"research_id": self.research_id(patient_id), **body}

    def deidentify_many(
        self,
        records: Iterable[Mapping[str, Any]],
        patient_id_of: Callable[[Mapping[str, Any]], str],
        *,
        as_of: date | None = None,
    ) -> Iterator[dict[str, Any]]:
        """De-identify an export lazily, one record at a time, so it can stream.

        Rows of the same patient share a research id and a date offset, so they still join
        and their intervals hold. Ages are reckoned on one day for the whole export.
        """
        day = as_of or self._clock.now().astimezone(UTC).date()
        for record in records:
            yield self.deidentify(record, patient_id=patient_id_of(record), as_of=day)

    def date_offset(self, patient_id: str) -> timedelta:
        """The shift every date of ``patient_id`` gets in ``date_mode="shift"``."""
        # Uniform over -365..-1 and 1..365: never 0, so no date is ever left unshifted.
        draw = int(self._mac(b"date-shift", patient_id)[:16], 16) % (2 * MAX_SHIFT_DAYS)
        days = draw - MAX_SHIFT_DAYS if draw < MAX_SHIFT_DAYS else draw - MAX_SHIFT_DAYS + 1
        return timedelta(days=days)

    def _mac(self, purpose: bytes, patient_id: str) -> str:
        if not isinstance(patient_id, str) or not patient_id:
            raise DeidentificationInvalid("a patient id is needed to de-identify a record")
        # The purpose label keeps the research id from revealing anything about the offset.
        message = purpose + b"\x00" + patient_id.encode()
        keyed = self._keyed.copy()
        keyed.update(message)
        return keyed.hexdigest()


def for_viewer(
    principal: Principal | None, deidentifier: Deidentifier, record: Mapping[str, Any], *, patient_id: str
) -> dict[str, Any]:
    """What ``principal`` may see of a patient record: researchers (and anonymous callers)
    only ever get it de-identified (HIPAA Safe Harbor); other permitted roles get it whole."""
    if principal is None or principal.is_researcher_only:
        return deidentifier.deidentify(record, patient_id=patient_id)
    return dict(record)
