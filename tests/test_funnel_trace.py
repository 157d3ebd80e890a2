"""The funnel's trace (moves as plain tuples, each type's states looked up once, the furthest row
kept as it goes) gives every ticket the path that the plain reading of the rules gives: written
out here as it was, one state at a time, and compared on many random histories."""

from __future__ import annotations

import random
from pathlib import Path

import erflow
from erflow.core.workflow import Workflow
from erflow.reports.funnel import funnel_rows, trace
from erflow.store import workflow_file
from erflow.store.commits import MoveFields

DEFAULT_PATH = Path(erflow.__file__).parent / "defaults" / "workflow.yaml"
Path_ = tuple[str, int, dict[int, int], int | None, int]  # type, entered, reached, now, furthest


def reference(workflow: Workflow, moves: list[MoveFields], limit: int) -> dict[str, Path_]:
    by_prefix = {t.prefix: t for t in workflow.types.values()}
    entries: dict[str, list[tuple[int, str | None]]] = {}
    for when, ticket, to_state, created in moves:
        if when > limit:
            continue
        entries.setdefault(ticket, []).append((when, to_state))
        for made in created:
            entries.setdefault(made, []).append((when, ""))
    paths: dict[str, Path_] = {}
    for ticket_id, items in entries.items():
        ticket_type = by_prefix.get(ticket_id.partition("-")[0])
        if ticket_type is None:
            continue
        rows = funnel_rows(ticket_type)
        items.reverse()
        items.sort(key=lambda item: item[0])
        reached: dict[int, int] = {}
        now: int | None = None
        for when, state_name in items:
            if state_name is None:
                continue
            state = ticket_type.states.get(state_name or ticket_type.initial)
            if state is None:
                continue
            if state.terminal:
                if now not in (rows.last_open, rows.done):
                    now = None
                    continue
                row = here = rows.done
            else:
                here = rows.row_of[state.name]
                row = rows.done if state.name in rows.done_states else here
            for index in range(max(reached, default=-1) + 1, row + 1):
                reached[index] = when
            now = here
        paths[ticket_id] = (ticket_type.name, items[0][0], reached, now, max(reached, default=-1))
    return paths


def random_moves(rng: random.Random, workflow: Workflow) -> list[MoveFields]:
    types = list(workflow.types.values())
    tickets = [f"{rng.choice(types).prefix}-{n}" for n in range(30)] + ["XX-1", "nodash"]
    moves: list[MoveFields] = []
    for _ in range(rng.randrange(1, 200)):
        ticket = rng.choice(tickets)
        ticket_type = workflow.types.get(next((t.name for t in types if ticket.startswith(t.prefix)), ""))
        names = list(ticket_type.states) if ticket_type else ["intake"]
        to_state = rng.choice([*names, *names, "", None, "gone"])
        created = tuple(rng.sample(tickets, rng.choice([0, 0, 0, 1, 2])))
        moves.append((rng.randrange(1000, 1040), ticket, to_state, created))  # many at one second
    return moves


def test_trace_follows_every_ticket_as_the_plain_rules_do() -> None:
    workflow = workflow_file.load(DEFAULT_PATH)
    rng = random.Random(16)
    terminal_seen = stopped_seen = 0
    for _ in range(300):
        moves = random_moves(rng, workflow)
        limit = rng.choice([1020, 2000])
        got = {
            ticket: (p.type.name, p.entered, p.reached, p.now, p.furthest)
            for ticket, p in trace(workflow, iter(moves), limit).items()
        }
        want = reference(workflow, moves, limit)
        assert got == want, moves
        terminal_seen += sum(1 for p in want.values() if p[3] is not None and p[3] == p[4] and p[4] > 0)
        stopped_seen += sum(1 for p in want.values() if p[3] is None)
    assert terminal_seen and stopped_seen  # the histories reach the end and stop on the way
