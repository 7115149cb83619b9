"""Cron expressions for scheduled collections: parsing, the next due time, and the error a
bad expression gets (naming the ``cron`` field and what is wrong)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from inescape.kernel.errors import Invalid
from inescape.modules.collection.cron import parse_cron

AT = datetime(2026, 3, 4, 10, 17, 30, tzinfo=UTC)  # a Wednesday


@pytest.mark.parametrize(
    ("expression", "expected"),
    [
        ("* * * * *", datetime(2026, 3, 4, 10, 18, tzinfo=UTC)),
        ("*/15 * * * *", datetime(2026, 3, 4, 10, 30, tzinfo=UTC)),
        ("0 2 * * *", datetime(2026, 3, 5, 2, 0, tzinfo=UTC)),
        ("5,40 9-17 * * *", datetime(2026, 3, 4, 10, 40, tzinfo=UTC)),
        ("0 9 * * mon-fri", datetime(2026, 3, 5, 9, 0, tzinfo=UTC)),
        ("0 9 * * 0", datetime(2026, 3, 8, 9, 0, tzinfo=UTC)),
        ("0 9 * * 7", datetime(2026, 3, 8, 9, 0, tzinfo=UTC)),
        ("0 0 1 */3 *", datetime(2026, 4, 1, 0, 0, tzinfo=UTC)),
        ("0 0 1 jan *", datetime(2027, 1, 1, 0, 0, tzinfo=UTC)),
        ("0 0 29 2 *", datetime(2028, 2, 29, 0, 0, tzinfo=UTC)),
        ("30 10/6 * * *", datetime(2026, 3, 4, 10, 30, tzinfo=UTC)),
        ("0 0 31 * *", datetime(2026, 3, 31, 0, 0, tzinfo=UTC)),
    ],
)
def test_the_next_due_time_is_the_first_matching_minute_after_now(expression, expected):
    assert parse_cron(expression).next_after(AT) == expected


def test_when_day_of_month_and_day_of_week_are_both_set_either_one_is_due():
    cron = parse_cron("0 0 13 * fri")  # the 13th, and every Friday

    assert cron.next_after(AT) == datetime(2026, 3, 6, tzinfo=UTC)  # Friday before the 13th
    assert cron.next_after(datetime(2026, 3, 12, 1, tzinfo=UTC)) == datetime(2026, 3, 13, tzinfo=UTC)


def test_the_next_due_time_is_strictly_after_a_matching_now():
    cron = parse_cron("0 * * * *")

    assert cron.next_after(datetime(2026, 3, 4, 11, 0, tzinfo=UTC)) == datetime(2026, 3, 4, 12, tzinfo=UTC)


def test_a_time_in_another_zone_is_read_as_the_same_instant_in_utc():
    tehran = datetime(2026, 3, 4, 17, 17, 30, tzinfo=timezone(timedelta(hours=3, minutes=30)))

    assert parse_cron("0 14 * * *").next_after(tehran) == datetime(2026, 3, 4, 14, tzinfo=UTC)


@pytest.mark.parametrize(
    ("expression", "problem"),
    [
        ("* * * *", "expected 5 fields"),
        ("* * * * * *", "expected 5 fields"),
        ("", "expected 5 fields"),
        ("60 * * * *", "the minute field: 60 is out of range 0-59"),
        ("* 24 * * *", "the hour field: 24 is out of range 0-23"),
        ("* * 0 * *", "the day-of-month field: 0 is out of range 1-31"),
        ("* * * 13 *", "the month field: 13 is out of range 1-12"),
        ("* * * * 8", "the day-of-week field: 8 is out of range 0-7"),
        ("*/0 * * * *", "step '0' is not a positive number"),
        ("*/x * * * *", "step 'x' is not a positive number"),
        ("10-5 * * * *", "range '10-5' runs backwards"),
        ("1,,2 * * * *", "an empty item"),
        ("? * * * *", "'?' is not a number"),
        ("-1 * * * *", "is not a number"),
        ("0 0 30 feb *", "never matches a date"),
    ],
)
def test_a_bad_expression_is_invalid_naming_the_cron_field_and_the_problem(expression, problem):
    with pytest.raises(Invalid) as raised:
        parse_cron(expression)

    assert raised.value.errors[0]["field"] == "cron"
    assert problem in raised.value.errors[0]["message"]


# --- property: against an oracle built from the same pieces as the expression -------------


@st.composite
def field(draw, low: int, high: int, top: int | None = None) -> tuple[str, set[int]]:
    """A field's text and, computed independently, the values it allows; values are drawn
    up to ``high``, while ``*`` covers the field up to ``top``."""
    top = high if top is None else top
    items, allowed = [], set()
    for _ in range(draw(st.integers(1, 3))):
        kind = draw(st.sampled_from(["star", "step", "value", "range", "range-step"]))
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        n = draw(st.integers(1, high - low + 1))
        text, values = {
            "star": ("*", range(low, top + 1)),
            "step": (f"*/{n}", range(low, top + 1, n)),
            "value": (str(a), [a]),
            "range": (f"{a}-{b}", range(a, b + 1)),
            "range-step": (f"{a}-{b}/{n}", range(a, b + 1, n)),
        }[kind]
        items.append(text)
        allowed |= set(values)
    return ",".join(items), allowed


@st.composite
def expressions(draw) -> tuple[str, list[set[int]], bool, bool]:
    parts = [
        draw(field(0, 59)),
        draw(field(0, 23)),
        draw(field(1, 28, 31)),  # values every month has: the expression always matches
        draw(field(1, 12)),
        draw(field(0, 6)),
    ]
    text = " ".join(p[0] for p in parts)
    return text, [p[1] for p in parts], parts[2][0].startswith("*"), parts[4][0].startswith("*")


def oracle(moment: datetime, sets: list[set[int]], any_day: bool, any_weekday: bool) -> bool:
    minutes, hours, days, months, weekdays = sets
    weekday = (moment.weekday() + 1) % 7  # Monday is 0 in Python, 1 in cron
    day_ok = (
        (moment.day in days and weekday in weekdays)
        if any_day or any_weekday
        else (moment.day in days or weekday in weekdays)
    )
    return moment.minute in minutes and moment.hour in hours and moment.month in months and day_ok


@given(
    expression=expressions(),
    now=st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)),
)
def test_the_next_run_is_after_now_matches_the_expression_and_none_comes_sooner(expression, now):
    text, sets, any_day, any_weekday = expression

    following = parse_cron(text).next_after(now)

    assert following is not None
    assert following > now
    assert following.second == 0
    assert following.microsecond == 0
    assert oracle(following, sets, any_day, any_weekday)
    if following - now <= timedelta(days=2):
        at = now.replace(second=0, microsecond=0) + timedelta(minutes=1)
        while at < following:
            assert not oracle(at, sets, any_day, any_weekday), at
            at += timedelta(minutes=1)
