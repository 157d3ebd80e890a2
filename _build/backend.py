"""erflow's build backend: setuptools' own, and bytecode for an editable install.

pip compiles the bytecode of what it installs, but an editable install (``pip install -e .``) leaves
erflow's sources where they are, uncompiled: Python then compiles each module on first import and
writes ``__pycache__`` beside it, or, with PYTHONDONTWRITEBYTECODE set, compiles every module again
on every run (30-50 ms of each command). So building the editable wheel also compiles ``erflow/``
in place, as pip compiles an installed copy. A module changed later is compiled again when imported,
as Python always does; reinstalling (or ``python -m compileall -q erflow``) stores it again.
"""

from __future__ import annotations

import compileall
from pathlib import Path
from typing import Any

from setuptools import build_meta as _setuptools
from setuptools.build_meta import *  # noqa: F403 - every other hook is setuptools' own

PACKAGE = Path(__file__).resolve().parent.parent / "erflow"


def build_editable(
    wheel_directory: str,
    config_settings: dict[str, Any] | None = None,
    metadata_directory: str | None = None,
) -> str:
    wheel: str = _setuptools.build_editable(wheel_directory, config_settings, metadata_directory)
    compileall.compile_dir(PACKAGE, quiet=2)  # best effort: a read-only tree is left as it is
    return wheel
