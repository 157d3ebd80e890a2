"""The ``test`` command: the store's scenario tests (erflow/core/scenario.py), played like pytest."""

import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from erflow.cli.root import JsonOpt, StoreOpt, app, open_ctx
from erflow.core.errors import UsageError

if TYPE_CHECKING:
    from erflow.app.scenarios import Outcome


@app.command("test")
def test(
    directory: Annotated[
        Path | None,
        typer.Argument(
            metavar="[DIR]",
            help="The folder of scenario files (*.yaml); default: scenarios/ in the store.",
            show_default=False,
        ),
    ] = None,
    keyword: Annotated[
        str | None,
        typer.Option("-k", help="Only the scenarios whose name contains this text.", show_default=False),
    ] = None,
    workflow: Annotated[
        Path | None,
        typer.Option(
            "--workflow",
            help="Play them against this workflow.yaml instead of the store's (a change not applied yet).",
            show_default=False,
        ),
    ] = None,
    templates: Annotated[
        Path | None,
        typer.Option("--templates", help="With --workflow: its templates folder.", show_default=False),
    ] = None,
    store: StoreOpt = None,
    json_out: JsonOpt = False,
) -> None:
    """Play the scenario tests, each on a throwaway copy of the store: a dot per pass, F per failure.
    Exit 0 when all pass (or there are none), 1 when one fails, 2 for a bad scenario file."""
    from erflow.app import scenarios

    ctx = open_ctx(store, reading=True)
    folder = directory if directory is not None else ctx.store.root / scenarios.SCENARIOS
    if directory is not None and not folder.is_dir():
        raise UsageError(f"{folder}: no such folder")
    if templates is not None and (workflow is None or not templates.is_dir()):
        raise UsageError("--templates goes with --workflow and names a folder")
    played = ctx.workflow
    if workflow is not None:
        from erflow.store import workflow_file

        if not workflow.is_file():
            raise UsageError(f"{workflow}: no such file")
        played = workflow_file.load(workflow)
    started = time.monotonic()
    found = scenarios.find(folder, played, keyword) if folder.is_dir() else []
    if not found:
        what = f" matching -k {keyword!r}" if keyword else ""
        sys.stderr.write(f"erflow: no scenarios found{what} in {folder}\n")
        if json_out:
            from erflow.cli.plain import write_json

            write_json({"passed": 0, "failed": 0, "scenarios": []})
        return

    def dot(outcome: "Outcome") -> None:
        if not json_out:
            sys.stdout.write("." if outcome.passed else "F")
            sys.stdout.flush()

    outcomes = scenarios.run(ctx.store, found, dot, workflow=workflow, templates=templates)
    failed = [o for o in outcomes if not o.passed]
    passed = len(outcomes) - len(failed)
    if json_out:
        from erflow.cli.plain import write_json

        write_json({"passed": passed, "failed": len(failed), "scenarios": [o.as_json() for o in outcomes]})
    else:
        sys.stdout.write("\n")
        for outcome in failed:
            sys.stdout.write(_failure(outcome))
        summary = f"{passed} passed" + (f", {len(failed)} failed" if failed else "")
        sys.stdout.write(f"{summary} in {time.monotonic() - started:.1f}s\n")
    if failed:
        raise typer.Exit(1)


def _failure(outcome: "Outcome") -> str:
    scenario, failure = outcome.scenario, outcome.failure
    assert failure is not None
    lines = [
        f"\n____ {scenario.name} ____",
        f"{scenario.file}:{scenario.line}: scenario {scenario.name!r}",
        f"{scenario.file}:{failure.line}: step: {failure.step}",
        *(f"  {line}" for line in failure.lines),
    ]
    return "\n".join(lines) + "\n"
