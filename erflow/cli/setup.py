"""Commands that make a store: ``init`` and ``demo``."""

import os
from pathlib import Path
from typing import Annotated

import typer

from erflow.cli.root import JsonOpt, app


@app.command()
def init(
    directory: Annotated[Path, typer.Argument(help="Where to make the store.")] = Path("."),
    json_out: JsonOpt = False,
) -> None:
    """Make a new store: the default workflow.yaml, templates/, empty tickets/, git init, first commit."""
    from erflow.app import setup
    from erflow.cli.plain import write_json

    result = setup.init_store(directory, os.environ)
    if json_out:
        write_json({"store": str(result.root), "commit": result.commit})
    else:
        from erflow.cli.tables import message

        message(f"erflow store ready in {result.root} [{result.commit[:10]}]")


@app.command()
def demo(
    directory: Annotated[Path, typer.Argument(help="Where to make the demo store.")] = Path("erflow-demo"),
    json_out: JsonOpt = False,
) -> None:
    """Make a store with sample tickets walked through the main paths of the SOP, and say what happened."""
    from erflow.app.demo import demo as make_demo
    from erflow.cli.plain import write_json
    from erflow.cli.tables import out

    report = make_demo(directory, os.environ)
    if json_out:
        write_json(report.as_json())
        return
    from rich.text import Text

    out.print(Text(f"Demo store: {report.root}", style="bold"))
    for step in report.steps:
        out.print(Text(step))
    out.print(
        Text(f"\nTry: cd {report.root} && erflow list && erflow show {report.tickets[0]}", style="cyan")
    )
