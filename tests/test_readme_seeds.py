"""README's "The seeds, rule by rule": each workflow.yaml line it cites still says what it quotes, and
each test it names exists, so the table cannot drift from the workflow it documents."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SECTION = "### The seeds, rule by rule"
CITED = re.compile(r"`workflow\.yaml:(\d+)` `([^`]+)`")
TEST = re.compile(r"`(test_\w+\.py)::(test_\w+)`")


def section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert SECTION in readme
    return readme.split(SECTION, 1)[1].split("\n## ", 1)[0].split("\n### ", 1)[0]


def test_each_cited_line_of_the_default_workflow_says_what_the_readme_quotes() -> None:
    lines = (ROOT / "erflow" / "defaults" / "workflow.yaml").read_text(encoding="utf-8").splitlines()
    cited = CITED.findall(section())
    assert len(cited) >= 60
    wrong = [(n, quoted) for n, quoted in cited if quoted not in lines[int(n) - 1]]
    assert wrong == [], "README cites lines that no longer say this; rerun the table's line numbers"


def test_the_readmes_table_is_the_one_the_rows_generate() -> None:
    from readme_seeds import table

    stale = "README is stale: run python tests/readme_seeds.py"
    assert (SECTION + section()).strip() == table().strip(), stale


def test_each_seed_has_its_rules_and_each_rule_names_a_test_that_exists() -> None:
    text = section()
    for seed in ("Seed 000", "Seed 001", "Seed 002", "Seed 003", "Seed 004"):
        assert f"**{seed} " in text
    rows = [row for row in text.splitlines() if row.startswith("| ") and "workflow.yaml:" in row]
    named = TEST.findall(text)
    assert len(named) == len(rows) >= 45
    missing = []
    for file, name in named:
        tree = ast.parse((ROOT / "tests" / file).read_text(encoding="utf-8"))
        if name not in {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}:
            missing.append(f"{file}::{name}")
    assert missing == []
