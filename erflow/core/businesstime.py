"""Durations and the business calendar: adding and measuring time in working hours or plain time.

Pure: every function is given the instants it works on. A duration's days count as working days on
the business clock (a Friday 15:00 plus 1d is Monday 15:00) and its hours and minutes as working
minutes; on the calendar clock they are plain time.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from erflow.core.record import Record

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
CLOCKS = ("business", "calendar")
_PART = re.compile(r"(\d+)(days?|d|hours?|h|minutes?|mins?|m)")
_OFFSET = re.compile(r"^([+-])(\d{2}):(\d{2})$")
_HOURS = re.compile(r"^(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})$")
_MAX_DAYS = 3660  # a walk over the calendar never looks further than ten years


class Duration(Record):
    days: int = 0
    minutes: int = 0

    def __str__(self) -> str:
        parts = [f"{self.days}d"] if self.days else []
        hours, minutes = divmod(self.minutes, 60)
        parts += [f"{hours}h"] if hours else []
        parts += [f"{minutes}m"] if minutes else []
        return "".join(parts) or "0m"


def parse_duration(text: str) -> Duration:
    """``3d``, ``4h``, ``90m``, ``3 days``, ``2 hours``, or a sum such as ``1d4h``."""
    raw = str(text).strip().lower().replace(" ", "")
    if not raw or _PART.sub("", raw):
        raise ValueError(f"{text!r} is not a duration (e.g. 4h, 3d, 90m, 1d4h, 3 days)")
    days = minutes = 0
    for amount, unit in _PART.findall(raw):
        if unit.startswith("d"):
            days += int(amount)
        elif unit.startswith("h"):
            minutes += 60 * int(amount)
        else:
            minutes += int(amount)
    return Duration(days, minutes)


def parse_timezone(text: str) -> dt.tzinfo:
    """``+01:00``-style offsets, ``UTC``, or an IANA name such as ``Europe/Berlin``."""
    if text.upper() in ("UTC", "Z"):
        return dt.timezone.utc
    match = _OFFSET.match(text)
    if match:
        sign = -1 if match.group(1) == "-" else 1
        return dt.timezone(sign * dt.timedelta(hours=int(match.group(2)), minutes=int(match.group(3))))
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        return ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{text!r} is not a timezone (+HH:MM, UTC or a name like Europe/Berlin)") from None


class Calendar(Record):
    """Working days and hours, and holidays, in one timezone."""

    tz: dt.tzinfo = dt.timezone.utc
    days: frozenset[int] = frozenset(range(5))  # Monday = 0
    start: dt.time = dt.time(9)
    end: dt.time = dt.time(17)
    holidays: frozenset[dt.date] = frozenset()

    @classmethod
    def parse(cls, timezone: str, days: Iterable[str], hours: str, holidays: Iterable[str]) -> Calendar:
        """Build from workflow.yaml's text; raise ValueError naming the bad part."""
        wanted = [str(d).lower()[:3] for d in days]
        unknown = [d for d in wanted if d not in WEEKDAYS]
        if unknown or not wanted:
            raise ValueError(f"days: expected some of {', '.join(WEEKDAYS)}")
        match = _HOURS.match(str(hours))
        if not match:
            raise ValueError(f"hours: {hours!r} is not HH:MM-HH:MM")
        try:
            start = dt.time(int(match.group(1)), int(match.group(2)))
            end = dt.time(int(match.group(3)), int(match.group(4)))
        except ValueError:
            raise ValueError(f"hours: {hours!r} is not HH:MM-HH:MM") from None
        if end <= start:
            raise ValueError(f"hours: {hours!r} ends before it starts")
        try:
            off = frozenset(dt.date.fromisoformat(str(h)) for h in holidays)
        except ValueError:
            raise ValueError("holidays: expected dates YYYY-MM-DD") from None
        return cls(parse_timezone(timezone), frozenset(WEEKDAYS.index(d) for d in wanted), start, end, off)

    def working(self, day: dt.date) -> bool:
        return day.weekday() in self.days and day not in self.holidays

    def _window(self, day: dt.date) -> tuple[dt.datetime, dt.datetime]:
        return (
            dt.datetime.combine(day, self.start, self.tz),
            dt.datetime.combine(day, self.end, self.tz),
        )

    def _next_working_day(self, day: dt.date) -> dt.date:
        for _ in range(_MAX_DAYS):
            day += dt.timedelta(days=1)
            if self.working(day):
                return day
        raise ValueError("the calendar has no working day in ten years")

    def _open(self, at: dt.datetime) -> dt.datetime:
        """``at`` if it is inside working hours, else the next opening."""
        local = at.astimezone(self.tz)
        day = local.date()
        if self.working(day):
            opens, closes = self._window(day)
            if local < opens:
                return opens
            if local < closes:
                return local
        return self._window(self._next_working_day(day))[0]

    def add(self, start: dt.datetime, duration: Duration) -> dt.datetime:
        """The instant ``duration`` of business time after ``start``."""
        at = self._open(start)
        for _ in range(duration.days):
            day = self._next_working_day(at.date())
            at = dt.datetime.combine(day, at.timetz().replace(tzinfo=None), self.tz)
        left = dt.timedelta(minutes=duration.minutes)
        while left > dt.timedelta(0):
            at = self._open(at)
            closes = self._window(at.date())[1]
            step = min(left, closes - at)
            at += step
            left -= step
        return at

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        """Business time between two instants (zero when ``end`` is not after ``start``)."""
        begin, finish = start.astimezone(self.tz), end.astimezone(self.tz)
        total = dt.timedelta(0)
        day = begin.date()
        for _ in range(_MAX_DAYS):
            if day > finish.date():
                break
            if self.working(day):
                opens, closes = self._window(day)
                low, high = max(opens, begin), min(closes, finish)
                if high > low:
                    total += high - low
            day += dt.timedelta(days=1)
        return total


class Clock(Record):
    """Business time by a calendar, or plain calendar time."""

    calendar: Calendar
    business: bool = True

    def add(self, start: dt.datetime, duration: Duration) -> dt.datetime:
        if self.business:
            return self.calendar.add(start, duration)
        return start + dt.timedelta(days=duration.days, minutes=duration.minutes)

    def elapsed(self, start: dt.datetime, end: dt.datetime) -> dt.timedelta:
        if self.business:
            return self.calendar.elapsed(start, end)
        return max(end - start, dt.timedelta(0))
