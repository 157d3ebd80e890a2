"""Start-up: the use cases of `show` and `list` import only what they use (each in a fresh Python)."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("rich", "jinja2", "email", "smtplib", "sqlite3", "erflow.mail", "erflow.store.git")


def imported_after(module: str) -> list[str]:
    code = f"import json, sys, {module}; print(json.dumps(sorted(sys.modules)))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    names: list[str] = json.loads(proc.stdout)
    return names


@pytest.mark.parametrize("module", ["erflow.app.context", "erflow.app.views"])
def test_the_read_path_imports_no_heavy_library_and_no_write_path(module: str) -> None:
    names = imported_after(module)
    assert [n for n in names if n.startswith("erflow.app.")] == [
        n for n in ("erflow.app.context", "erflow.app.reading", "erflow.app.views") if n in names
    ]
    assert [n for n in names if any(n == h or n.startswith(h + ".") for h in HEAVY)] == []
