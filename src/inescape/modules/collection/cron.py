"""Five-field cron expressions (minute hour day-of-month month day-of-week), in UTC.

Each field is ``*``, a value, a range ``a-b``, a step ``*/n``, ``a-b/n`` or ``a/n`` (from ``a``
to the field's end), or a comma-separated list of these; months and days of the week may
also be named (``jan``, ``mon``). Day of week 0 and 7 are both Sunday. As in Vixie cron, when
both day of month and day of week are restricted a day matching either one is due.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from inescape.kernel.errors import Invalid

FIELD = "cron"
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


@dataclass(frozen=True)
class _Spec:
    name: str
    low: int
    high: int
    names: Sequence[str] = ()
    names_from: int = 0


_FIELDS = (
    _Spec("minute", 0, 59),
    _Spec("hour", 0, 23),
    _Spec("day-of-month", 1, 31),
    _Spec("month", 1, 12, _MONTHS, 1),
    _Spec("day-of-week", 0, 7, _DAYS, 0),
)
_SEARCH_YEARS = 9  # 29 February can be eight years away (2096 to 2104)


class CronInvalid(Invalid):
    def __init__(self, message: str) -> None:
        super().__init__(f"{FIELD}: {message}", errors=[{"field": FIELD, "message": message}])


def _value(text: str, spec: _Spec) -> int:
    lowered = text.lower()
    if lowered in spec.names:
        return spec.names.index(lowered) + spec.names_from
    if not text.isdigit():
        raise CronInvalid(f"the {spec.name} field: {text!r} is not a number")
    value = int(text)
    if not spec.low <= value <= spec.high:
        raise CronInvalid(f"the {spec.name} field: {value} is out of range {spec.low}-{spec.high}")
    return value


def _item(text: str, spec: _Spec) -> set[int]:
    base, slash, step_text = text.partition("/")
    step = 1
    if slash:
        if not step_text.isdigit() or int(step_text) == 0:
            raise CronInvalid(f"the {spec.name} field: step {step_text!r} is not a positive number")
        step = int(step_text)
    if base == "*":
        low, high = spec.low, spec.high
    elif "-" in base:
        first, _, last = base.partition("-")
        low, high = _value(first, spec), _value(last, spec)
        if low > high:
            raise CronInvalid(f"the {spec.name} field: range {base!r} runs backwards")
    else:
        low = _value(base, spec)
        high = spec.high if slash else low
    return set(range(low, high + 1, step))


def _field(text: str, spec: _Spec) -> frozenset[int]:
    values: set[int] = set()
    for item in text.split(","):
        if not item:
            raise CronInvalid(f"the {spec.name} field: an empty item in {text!r}")
        values |= _item(item, spec)
    return frozenset(values)


@dataclass(frozen=True)
class Cron:
    expression: str
    minutes: frozenset[int]
    hours: frozenset[int]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day of month is *
    any_weekday: bool  # day of week is *

    def _day_matches(self, moment: datetime) -> bool:
        in_month = moment.day in self.days
        in_week = (moment.isoweekday() % 7) in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def matches(self, moment: datetime) -> bool:
        moment = moment.astimezone(UTC)
        return (
            moment.minute in self.minutes
            and moment.hour in self.hours
            and moment.month in self.months
            and self._day_matches(moment)
        )

    def next_after(self, moment: datetime) -> datetime | None:
        """The first minute strictly after ``moment`` that matches; None if none within
        the next years (an expression such as ``0 0 30 2 *`` never matches)."""
        at = moment.astimezone(UTC).replace(second=0, microsecond=0) + timedelta(minutes=1)
        limit = at.replace(year=at.year + _SEARCH_YEARS, month=1, day=1)
        while at < limit:
            if at.month not in self.months:
                at = (at.replace(day=1) + timedelta(days=32)).replace(day=1, hour=0, minute=0)
            elif not self._day_matches(at):
                at = (at + timedelta(days=1)).replace(hour=0, minute=0)
            elif at.hour not in self.hours:
                at = (at + timedelta(hours=1)).replace(minute=0)
            elif at.minute not in self.minutes:
                at += timedelta(minutes=1)
            else:
                return at
        return None


def parse_cron(expression: str) -> Cron:
    """The expression, or ``Invalid`` naming the ``cron`` field and what is wrong."""
    parts = expression.split()
    if len(parts) != len(_FIELDS):
        raise CronInvalid(f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(parts)}")
    minutes, hours, days, months, weekdays = (
        _field(text, spec) for text, spec in zip(parts, _FIELDS, strict=True)
    )
    cron = Cron(
        expression=" ".join(parts),
        minutes=minutes,
        hours=hours,
        days=days,
        months=months,
        weekdays=frozenset(d % 7 for d in weekdays),
        any_day=parts[2].startswith("*"),
        any_weekday=parts[4].startswith("*"),
    )
    if cron.next_after(datetime(2000, 1, 1, tzinfo=UTC)) is None:
        raise CronInvalid(f"{cron.expression!r} never matches a date")
    return cron
