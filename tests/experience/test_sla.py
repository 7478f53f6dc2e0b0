"""Business-hours arithmetic: worked examples (evenings, weekends, holidays, month ends, DST) and
properties checked by hypothesis (adding then measuring gives the minutes back; both monotonic)."""

from __future__ import annotations

import datetime
import zoneinfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from experience.models import BusinessCalendar
from experience.sla import add_business_minutes, business_minutes_between, sla_state
from finance.models import Organization

SHANGHAI = zoneinfo.ZoneInfo("Asia/Shanghai")
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")


def calendar(
    tz: str = "Asia/Shanghai",
    days: list[int] | None = None,
    opens: datetime.time = datetime.time(9),
    closes: datetime.time = datetime.time(18),
    holidays: list[str] | None = None,
) -> BusinessCalendar:
    return BusinessCalendar(
        organization=Organization(timezone=tz),
        working_days=[0, 1, 2, 3, 4] if days is None else days,
        opens_at=opens,
        closes_at=closes,
        holidays=holidays or [],
    )


def local(*args: int, tz: zoneinfo.ZoneInfo = SHANGHAI) -> datetime.datetime:
    return datetime.datetime(*args, tzinfo=tz)


# 2026-03-02 is a Monday.
@pytest.mark.parametrize(
    ("start", "minutes", "expected"),
    [
        (local(2026, 3, 2, 10), 60, local(2026, 3, 2, 11)),  # inside the day
        (local(2026, 3, 2, 17, 30), 60, local(2026, 3, 3, 9, 30)),  # over the evening
        (local(2026, 3, 6, 17), 120, local(2026, 3, 9, 10)),  # Friday over the weekend
        (local(2026, 3, 7, 12), 30, local(2026, 3, 9, 9, 30)),  # starts on a Saturday
        (local(2026, 3, 2, 7), 15, local(2026, 3, 2, 9, 15)),  # before opening
        (local(2026, 3, 2, 10), 0, local(2026, 3, 2, 10)),  # nothing to add
        (local(2026, 1, 30, 17), 600, local(2026, 2, 2, 18)),  # month end, ends on closing time
        (local(2026, 3, 2, 10), 8 * 60, local(2026, 3, 2, 18)),  # exactly the rest of the day
    ],
)
def test_add_business_minutes_examples(start, minutes, expected):
    assert add_business_minutes(start, minutes, calendar()) == expected
    assert business_minutes_between(start, expected, calendar()) == minutes


def test_holidays_are_skipped():
    holiday = calendar(holidays=["2026-03-03"])
    assert add_business_minutes(local(2026, 3, 2, 17), 120, holiday) == local(2026, 3, 4, 10)
    assert business_minutes_between(local(2026, 3, 2, 9), local(2026, 3, 5, 9), holiday) == 2 * 540


def test_between_counts_only_working_time():
    cal = calendar()
    assert business_minutes_between(local(2026, 3, 6, 17), local(2026, 3, 9, 10), cal) == 120
    assert business_minutes_between(local(2026, 3, 7, 8), local(2026, 3, 8, 23), cal) == 0  # weekend
    assert business_minutes_between(local(2026, 3, 9, 10), local(2026, 3, 6, 17), cal) == 0  # reversed
    # A whole month: March 2026 has 22 working days.
    assert business_minutes_between(local(2026, 3, 1), local(2026, 4, 1), cal) == 22 * 540


def test_dst_days_have_the_hours_the_wall_clock_shows():
    every_day = calendar(
        "Europe/Berlin", days=list(range(7)), opens=datetime.time(0), closes=datetime.time(23, 59)
    )
    # 2026-03-29: clocks go forward at 02:00 (the day has 23 hours).
    spring = business_minutes_between(local(2026, 3, 29, tz=BERLIN), local(2026, 3, 30, tz=BERLIN), every_day)
    assert spring == 23 * 60 - 1
    # 2026-10-25: clocks go back at 03:00 (the day has 25 hours).
    autumn = business_minutes_between(
        local(2026, 10, 25, tz=BERLIN), local(2026, 10, 26, tz=BERLIN), every_day
    )
    assert autumn == 25 * 60 - 1
    # 01:30 + 60 business minutes is 03:30 local: 02:00-03:00 does not exist that night.
    result = add_business_minutes(local(2026, 3, 29, 1, 30, tz=BERLIN), 60, every_day)
    assert result.astimezone(BERLIN).replace(tzinfo=None) == datetime.datetime(2026, 3, 29, 3, 30)


def test_office_hours_across_dst_change_stay_nine_hours():
    berlin = calendar("Europe/Berlin")
    # Friday 27 March 17:00 + 120 minutes: Monday 30 March 10:00 local, after the change.
    result = add_business_minutes(local(2026, 3, 27, 17, tz=BERLIN), 120, berlin)
    assert result == local(2026, 3, 30, 10, tz=BERLIN)
    assert business_minutes_between(
        local(2026, 3, 27, 9, tz=BERLIN), local(2026, 3, 31, 9, tz=BERLIN), berlin
    ) == (2 * 540)


def test_naive_datetimes_are_refused():
    with pytest.raises(ValueError):
        add_business_minutes(datetime.datetime(2026, 3, 2, 10), 5, calendar())


def test_sla_state_warns_in_the_last_share_of_the_target():
    cal = calendar()
    due = local(2026, 3, 2, 18)  # a 480-minute target opened at 10:00, warn at 80 %
    assert (
        sla_state(due=due, target_minutes=480, warn_percent=80, now=local(2026, 3, 2, 16), calendar=cal)
        == "ok"
    )
    assert (
        sla_state(due=due, target_minutes=480, warn_percent=80, now=local(2026, 3, 2, 16, 24), calendar=cal)
        == "warning"
    )
    assert sla_state(due=due, target_minutes=480, warn_percent=80, now=due, calendar=cal) == "breach"
    assert sla_state(due=None, target_minutes=480, warn_percent=80, now=due, calendar=cal) == "ok"


# Properties ---------------------------------------------------------------------------------------

ZONES = ["Asia/Shanghai", "Europe/Berlin", "America/New_York", "Australia/Lord_Howe", "UTC"]
starts = st.datetimes(
    min_value=datetime.datetime(2024, 1, 1),
    max_value=datetime.datetime(2028, 12, 31),
    timezones=st.just(datetime.UTC),
)


@st.composite
def calendars(draw: st.DrawFn) -> BusinessCalendar:
    opens = draw(st.integers(min_value=0, max_value=22 * 60))
    closes = draw(st.integers(min_value=opens + 15, max_value=24 * 60 - 1))
    days = draw(st.sets(st.integers(min_value=0, max_value=6), min_size=1))
    holidays = draw(
        st.lists(
            st.dates(min_value=datetime.date(2024, 1, 1), max_value=datetime.date(2029, 6, 30)), max_size=20
        )
    )
    return calendar(
        draw(st.sampled_from(ZONES)),
        days=sorted(days),
        opens=datetime.time(opens // 60, opens % 60),
        closes=datetime.time(closes // 60, closes % 60),
        holidays=[day.isoformat() for day in holidays],
    )


PROPERTY = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(start=starts, minutes=st.integers(min_value=0, max_value=20000), cal=calendars())
def test_measuring_what_was_added_gives_the_minutes_back(start, minutes, cal):
    end = add_business_minutes(start, minutes, cal)
    assert end >= start
    assert business_minutes_between(start, end, cal) == minutes


@PROPERTY
@given(start=starts, a=st.integers(0, 10000), b=st.integers(0, 10000), cal=calendars())
def test_adding_is_monotonic(start, a, b, cal):
    low, high = sorted((a, b))
    assert add_business_minutes(start, low, cal) <= add_business_minutes(start, high, cal)


@PROPERTY
@given(
    start=starts,
    a=st.timedeltas(min_value=datetime.timedelta(0), max_value=datetime.timedelta(days=40)),
    b=st.timedeltas(min_value=datetime.timedelta(0), max_value=datetime.timedelta(days=40)),
    cal=calendars(),
)
def test_measuring_is_monotonic_and_additive(start, a, b, cal):
    low, high = sorted((a, b))
    first = business_minutes_between(start, start + low, cal)
    second = business_minutes_between(start, start + high, cal)
    assert 0 <= first <= second
    # Never more business time than real time.
    assert second <= high.total_seconds() // 60
