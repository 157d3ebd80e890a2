"""Rules of the seeds that the default workflow encodes as data, each played on a fresh store: a
refused step names the ``--set`` values it was given; the bug rejection's reason reaches the submitter
(seed 001); the schedule shared with the customer after ``plan`` and the check that existing
configuration cannot do what is asked (seed 000); an invoice that must match estimate x rate (seed 002).
"""

from __future__ import annotations

from pathlib import Path

from conftest import PM, SUPPORT, Cli, describe, one_line_error


def test_a_refused_step_keeps_nothing_and_lists_the_sets_it_was_given(run: Cli, store: Path) -> None:
    ticket_id = run.new()
    run.advance(ticket_id, ("submit", SUPPORT, {}))
    before = run.snapshot()

    result = run(
        "advance", ticket_id, "approve", "--set", "problem=Invoices only on screen", "--set", "scope=CSV",
        user=PM,
    )  # fmt: skip

    assert result.exit_code == 3, describe(result)
    assert run.snapshot() == before
    assert one_line_error(result) == (
        f"erflow: {ticket_id}: approve refused: missing: desired_outcome; "
        "you gave: --set 'problem=Invoices only on screen' --set scope=CSV "
        "(give missing fields with --set FIELD=VALUE)"
    )
    assert "problem" not in run.show(ticket_id)
