"""The demo's story ends now: its last steps are today, minutes ago, a few tickets were updated in the
last hours, nothing is dated in the future, and the timers of its fortnight still fire."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from conftest import Cli, describe


@pytest.mark.parametrize("now", ["2026-11-02T09:00:00+00:00", "2027-03-14T22:40:00+01:00"])
def test_the_demo_story_ends_now(bare: Cli, tmp_path: Path, now: str) -> None:
    result = bare("demo", str(tmp_path / "demo"), env={"ERFLOW_NOW": now})
    assert result.exit_code == 0, describe(result)
    pinned = dt.datetime.fromisoformat(now)
    demo = Cli(tmp_path / "demo", bare.cache_dir)
    tickets = demo.json("list", env={"ERFLOW_NOW": now})
    updated = sorted(dt.datetime.fromisoformat(t["updated"]) for t in tickets)
    created = [dt.datetime.fromisoformat(t["created"]) for t in tickets]
    assert updated[-1] <= pinned
    assert pinned - updated[-1] <= dt.timedelta(minutes=40)
    recent = [u for u in updated if pinned - u <= dt.timedelta(hours=4)]
    assert len(recent) >= 3
    assert all(u.astimezone(pinned.tzinfo).date() == pinned.date() for u in recent)
    assert dt.timedelta(days=10) <= pinned - min(created) <= dt.timedelta(days=20)
    assert "nudge_after_3_days" in result.stdout
    assert "hand_over_a_day_later: on_hold → todo" in result.stdout
    assert "declined" in {t["state"] for t in tickets}
