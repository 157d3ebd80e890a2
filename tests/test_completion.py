"""Shell completion: the erflow command run as bash, zsh and fish run it at a TAB (subprocess, with
the variables each shell's script sets), and the scripts --show-completion and
--install-completion give for each shell."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import APPROVE, Cli
from test_cli_startup import modules_imported

from erflow.app import completion as app_completion
from erflow.cli import completion
from erflow.cli.main import app
from erflow.reports.catalog import REPORTS

ERFLOW = str(Path(sys.executable).parent / "erflow")
PM_REVIEW = ["request_info", "approve", "config_solves_it"]  # the transitions out of pm_review


def erflow(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.endswith("_COMPLETE") and k != "ERFLOW_STORE"}
    return subprocess.run(
        [ERFLOW, *args],
        cwd=cwd,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def bash(line: str, cwd: Path, instruction: str = "complete_bash") -> list[str]:
    """What bash's script is given at a TAB at the end of ``line``."""
    words = line.split(" ")
    proc = erflow(cwd=cwd, _ERFLOW_COMPLETE=instruction, COMP_WORDS=line, COMP_CWORD=str(len(words) - 1))
    assert proc.returncode == 0 and not proc.stderr, proc.stderr
    return [line for line in proc.stdout.splitlines() if line]


@pytest.fixture
def at_review(run: Cli) -> str:
    return run.ticket_at("pm_review")


def test_bash_completes_commands_options_and_subcommands(store: Path) -> None:
    names = bash("erflow ", store)
    assert names[:4] == ["init", "demo", "new", "show"] and "advance" in names and "merge-file" not in names
    assert bash("erflow adv", store) == ["advance"]
    assert {"--install-completion", "--show-completion", "--help"} <= set(bash("erflow --", store))
    assert {"--state", "--type", "--owner", "--json", "--csv"} <= set(bash("erflow list --", store))
    assert {"receive", "fetch", "quarantine", "retry"} <= set(bash("erflow mail ", store))


def test_bash_completes_ids_and_the_transitions_out_of_that_tickets_state(run: Cli, at_review: str) -> None:
    assert bash("erflow show ", run.root) == [at_review]
    assert bash(f"erflow show {at_review[:4]}", run.root) == [at_review]
    assert bash(f"erflow show {at_review[:5].lower()}", run.root) == [at_review]  # typed in any case
    assert bash("erflow show BUG-", run.root) == []
    assert bash(f"erflow advance {at_review} ", run.root) == PM_REVIEW
    assert bash(f"erflow advance {at_review} a", run.root) == ["approve"]
    assert bash(f"erflow advance {at_review} --dry-run ", run.root) == PM_REVIEW
    assert bash(f"erflow link {at_review} parent ", run.root) == [at_review]
    run.advance(at_review, APPROVE)
    assert "approve" not in bash(f"erflow advance {at_review} ", run.root)  # the state it is in now


def test_bash_completes_types_states_people_reports_and_templates(store: Path) -> None:
    assert bash("erflow new ", store)[:2] == ["enhancement", "bug"]
    every = bash("erflow list --state ", store)
    bug = bash("erflow list --type bug --state ", store)
    assert "pm_review" in every and "pm_review" not in bug and set(bug) < set(every)
    people = bash("erflow reminders --for ", store)
    assert "destyn@example.com" in people and "pm" not in people
    assert {"destyn@example.com", "pm"} <= set(bash("erflow assign ER-X ", store))
    assert bash("erflow report ", store) == list(REPORTS) == list(app_completion.REPORTS)
    assert bash("erflow report w", store) == ["workload"]
    assert "bug_received" in bash("erflow email ER-X bug_", store)


def test_completion_finds_the_store_as_a_command_does(run: Cli, at_review: str, tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert bash("erflow show ", elsewhere) == []  # no store here: nothing, and no error
    assert bash(f"erflow show --store {run.root} ", elsewhere) == [at_review]
    proc = erflow(
        cwd=elsewhere, ERFLOW_STORE=str(run.root), _ERFLOW_COMPLETE="complete_bash",
        COMP_WORDS=f"erflow advance {at_review} ", COMP_CWORD="3",
    )  # fmt: skip
    assert proc.stdout.splitlines() == PM_REVIEW


def test_zsh_and_fish_get_values_with_their_descriptions(run: Cli, at_review: str) -> None:
    zsh = erflow(
        cwd=run.root, _ERFLOW_COMPLETE="complete_zsh", _TYPER_COMPLETE_ARGS=f"erflow advance {at_review} ap"
    )
    assert (
        zsh.stdout.strip() == """_arguments '*: :(("approve":"Approve for Product Board → product_board"))'"""
    )
    fish = erflow(
        cwd=run.root, _ERFLOW_COMPLETE="complete_fish", _TYPER_COMPLETE_FISH_ACTION="get-args",
        _TYPER_COMPLETE_ARGS=f"erflow advance {at_review} ",
    )  # fmt: skip
    assert [line.split("\t")[0] for line in fish.stdout.splitlines()] == PM_REVIEW
    assert "approve\tApprove for Product Board → product_board" in fish.stdout.splitlines()
    run.ok("list")  # the index, which holds the titles
    titles = erflow(cwd=run.root, _ERFLOW_COMPLETE="complete_fish", _TYPER_COMPLETE_FISH_ACTION="get-args",
                    _TYPER_COMPLETE_ARGS="erflow show ")  # fmt: skip
    assert titles.stdout.splitlines() == [f"{at_review}\tExport invoices to CSV"]
    is_args = erflow(cwd=run.root, _ERFLOW_COMPLETE="complete_fish", _TYPER_COMPLETE_FISH_ACTION="is-args",
                     _TYPER_COMPLETE_ARGS="erflow show ")  # fmt: skip
    assert is_args.returncode == 0


def test_click_8_instruction_names_are_taken_too(run: Cli, at_review: str) -> None:
    line = f"erflow advance {at_review} "
    assert bash(line, run.root, "bash_complete") == PM_REVIEW
    zsh = erflow(cwd=run.root, _ERFLOW_COMPLETE="zsh_complete", COMP_WORDS=line, COMP_CWORD="3")
    assert '"approve":"Approve for Product Board' in zsh.stdout
    fish = erflow(cwd=run.root, _ERFLOW_COMPLETE="fish_complete", _TYPER_COMPLETE_FISH_ACTION="get-args",
                  COMP_WORDS=f"{line}r", COMP_CWORD="3")  # fmt: skip
    assert fish.stdout.splitlines() == ["request_info\tPM review: more info needed → needs_info"]


def test_a_tab_writes_nothing_not_even_a_cache(run: Cli, at_review: str) -> None:
    cache = run.root / ".git" / "erflow" / "workflow.cache"
    cache.unlink()
    before = sorted(str(p) for p in run.root.rglob("*"))
    assert bash(f"erflow advance {at_review} ", run.root) == PM_REVIEW  # parsed, not cached
    assert bash("erflow list --state needs_i", run.root) == ["needs_info"]
    assert sorted(str(p) for p in run.root.rglob("*")) == before


def test_a_ticket_changed_after_the_index_was_made_completes_from_its_file(run: Cli, at_review: str) -> None:
    path = run.path(at_review)
    path.write_text(path.read_text().replace("state: pm_review", "state: needs_info"))
    assert bash(f"erflow advance {at_review} ", run.root) != PM_REVIEW
    assert "info_received" in bash(f"erflow advance {at_review} ", run.root)


@pytest.mark.parametrize(
    ("shell", "marks"),
    [
        ("bash", ["complete -o default -F _erflow_completion erflow", "_ERFLOW_COMPLETE=complete_bash"]),
        ("zsh", ["#compdef erflow", "_ERFLOW_COMPLETE=complete_zsh", "compdef _erflow_completion erflow"]),
        ("fish", ["complete --command erflow", "_ERFLOW_COMPLETE=complete_fish"]),
    ],
)
def test_show_and_install_completion_for_each_shell(shell: str, marks: list[str], tmp_path: Path) -> None:
    shown = erflow("--show-completion", shell, cwd=tmp_path, _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1")
    assert shown.returncode == 0 and all(mark in shown.stdout for mark in marks), shown.stdout
    home = tmp_path / "home"
    installed = erflow(
        "--install-completion",
        shell,
        cwd=tmp_path,
        HOME=str(home),
        _TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION="1",
    )
    assert installed.returncode == 0, installed.stderr
    script = {
        "bash": home / ".bash_completions" / "erflow.sh",
        "zsh": home / ".zfunc" / "_erflow",
        "fish": home / ".config" / "fish" / "completions" / "erflow.fish",
    }[shell]
    assert f"{shell} completion installed in {script}" in installed.stdout
    assert script.read_text().strip() == shown.stdout.strip()
    if shell == "bash":
        assert f"source '{script}'" in (home / ".bashrc").read_text()
    if shell == "zsh":
        assert "fpath+=~/.zfunc" in (home / ".zshrc").read_text()


def test_bash_itself_completes_through_the_installed_script(run: Cli, at_review: str, tmp_path: Path) -> None:
    """Real bash: --install-completion detects it, and the function it installs fills COMPREPLY."""
    home = tmp_path / "home"
    env = {**os.environ, "HOME": str(home), "PATH": f"{Path(ERFLOW).parent}:{os.environ['PATH']}"}
    env.pop("_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION", None)
    script = (
        "erflow --install-completion >/dev/null && source ~/.bash_completions/erflow.sh && "
        f'COMP_WORDS=(erflow advance {at_review} ""); COMP_CWORD=3; _erflow_completion erflow; '
        'printf "%s\\n" "${COMPREPLY[@]}"'
    )
    proc = subprocess.run(
        ["bash", "--norc", "-c", script],
        cwd=run.root,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines() == PM_REVIEW


def test_every_id_argument_and_named_parameter_has_its_completer() -> None:
    command = __import__("typer").main.get_command(app)
    completion.attach(command)
    covered, missing = [], []
    for group in [command, *(c for c in command.commands.values() if hasattr(c, "commands"))]:
        for name, sub in group.commands.items():
            for param in sub.params:
                if getattr(param, "metavar", None) in ("ID", "OTHER", "TYPE", "WHO") or param.name in (
                    "ticket_id", "transition", "state", "ticket_type", "owner",
                ):  # fmt: skip
                    done = param._custom_shell_complete is not None
                    (covered if done else missing).append(f"{name} {param.name}")
    assert missing == []
    assert {
        "show ticket_id",
        "advance transition",
        "reply ticket_id",
        "link other",
        "new ticket_type",
    } <= set(covered)


def test_an_ordinary_command_loads_nothing_of_completion(store: Path) -> None:
    modules = modules_imported("list", "--json", "--store", str(store))
    assert not {"erflow.cli.completion", "erflow.app.completion", "erflow.store.peek"} & modules
