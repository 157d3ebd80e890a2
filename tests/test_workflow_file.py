"""Tests of erflow.store.workflow_file and its cache: workflow.yaml parsed once, kept in the git
folder (.git/erflow/workflow.cache), and a cache that is stale, damaged or foreign never trusted."""

from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import read_only

import erflow
from erflow.core import loader
from erflow.core.businesstime import Duration
from erflow.core.errors import InvalidData
from erflow.store import workflow_cache, workflow_file

DEFAULT = Path(erflow.__file__).parent / "defaults" / "workflow.yaml"
PARSE = loader.load_bytes  # the parser itself, not counted by no_parse


@pytest.fixture
def path(tmp_path: Path) -> Path:
    """The default workflow.yaml in a store folder of its own (with a git folder), not yet cached."""
    target = tmp_path / "store" / "workflow.yaml"
    (target.parent / ".git").mkdir(parents=True)
    shutil.copyfile(DEFAULT, target)
    return target


def cache_of(path: Path) -> Path:
    return path.parent / ".git" / "erflow" / "workflow.cache"


@pytest.fixture
def no_parse(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Records every parse of a workflow.yaml (a cache miss) while it is in use."""
    parsed: list[Path] = []

    def counting(data: bytes, where: Path) -> Any:
        parsed.append(where)
        return PARSE(data, where)

    monkeypatch.setattr(loader, "load_bytes", counting)
    yield parsed


def parsed_fresh(path: Path) -> Any:
    workflow, problems = PARSE(path.read_bytes(), path)
    assert problems == []
    return workflow


def forged(path: Path, payload: bytes) -> bytes:
    """A cache file whose header is right for the workflow.yaml at ``path``, holding ``payload``."""
    data = path.read_bytes()
    return b"".join(
        (
            workflow_cache._MAGIC,
            len(data).to_bytes(8, "big"),
            workflow_cache._key(data),
            hashlib.sha256(payload).digest(),
            payload,
        )
    )


def test_the_second_load_comes_from_the_cache_and_equals_a_fresh_parse(
    path: Path, no_parse: list[Path]
) -> None:
    first = workflow_file.load(path)
    assert cache_of(path).is_file()
    second = workflow_file.load(path)

    assert no_parse == [path]
    assert second == first == parsed_fresh(path)
    assert second is not first
    assert second.path == path


def test_an_edit_of_workflow_yaml_is_seen_by_the_next_load(path: Path, no_parse: list[Path]) -> None:
    assert workflow_file.load(path).type("enhancement").label != "Changed label"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("label: Enhancement request", "label: Changed label", 1), encoding="utf-8")

    assert workflow_file.load(path).type("enhancement").label == "Changed label"
    assert workflow_file.load(path).type("enhancement").label == "Changed label"
    assert no_parse == [path, path]


def test_an_edit_that_keeps_the_size_and_mtime_is_seen_too(path: Path) -> None:
    workflow_file.load(path)
    stat = path.stat()
    text = path.read_text(encoding="utf-8")
    edited = text.replace("label: Enhancement request", "label: Enhancement requesx", 1)
    assert len(edited) == len(text)
    path.write_text(edited, encoding="utf-8")
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))

    assert workflow_file.load(path).type("enhancement").label == "Enhancement requesx"


class Other:
    """A class a workflow is not made of."""


class Explodes:
    """A pickle that would make a folder when loaded, if the reader let it."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self) -> tuple[Any, ...]:
        return (os.mkdir, (str(self.target),))


def damaged(path: Path) -> dict[str, bytes]:
    """Cache files that must not be used for the workflow.yaml at ``path``."""
    good = cache_of(path).read_bytes()
    duration = pickle.dumps(Duration(1), pickle.HIGHEST_PROTOCOL)
    return {
        "empty": b"",
        "garbage": os.urandom(4096),
        "magic only": workflow_cache._MAGIC,
        "truncated": good[: len(good) // 2],
        "one byte flipped": good[:-100] + bytes([good[-100] ^ 1]) + good[-99:],
        "another key": good[: workflow_cache._KEY] + bytes(32) + good[workflow_cache._DIGEST :],
        "a pickle of another class": forged(path, pickle.dumps(Other())),
        "a pickle of a dict": forged(path, pickle.dumps({"types": {}})),
        "a pickle of a value class that is not a workflow": forged(path, duration),
        "a pickle that runs code": forged(path, pickle.dumps(Explodes(path.parent / "pwned"))),
        "not a pickle": forged(path, b"\x80\x05garbage"),
    }


@pytest.mark.parametrize(
    "case",
    [
        "empty",
        "garbage",
        "magic only",
        "truncated",
        "one byte flipped",
        "another key",
        "a pickle of another class",
        "a pickle of a dict",
        "a pickle of a value class that is not a workflow",
        "a pickle that runs code",
        "not a pickle",
    ],
)
def test_a_damaged_or_foreign_cache_is_ignored_and_rebuilt(
    path: Path, no_parse: list[Path], case: str
) -> None:
    expected = workflow_file.load(path)
    good = cache_of(path).read_bytes()
    cache_of(path).write_bytes(damaged(path)[case])

    assert workflow_cache.read(path) is None
    assert workflow_file.load(path) == expected
    assert no_parse == [path, path]
    assert not (path.parent / "pwned").exists()
    assert cache_of(path).read_bytes() == good  # rebuilt as it was
    assert workflow_file.load(path) == expected
    assert len(no_parse) == 2


def test_a_cache_made_by_other_code_is_not_used(path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    workflow_file.load(path)
    monkeypatch.setattr(workflow_cache, "_maker", lambda: b"another erflow, Python or core")
    assert workflow_cache.read(path) is None


def test_a_workflow_with_problems_is_not_cached_and_its_problems_come_every_time(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("owner: support", "owner: nobody", 1), encoding="utf-8")

    first = workflow_file.load_with_problems(path)
    assert first[0] is None and first[1]
    assert not cache_of(path).exists()
    assert workflow_file.load_with_problems(path) == first
    with pytest.raises(InvalidData):
        workflow_file.load(path)


def test_a_good_cache_is_not_used_once_the_file_has_problems(path: Path) -> None:
    workflow_file.load(path)
    path.write_text(path.read_text(encoding="utf-8") + "\nunknown_top_level_key: 1\n", encoding="utf-8")
    with pytest.raises(InvalidData):
        workflow_file.load(path)


def test_a_read_only_cache_folder_still_loads_the_workflow(path: Path, no_parse: list[Path]) -> None:
    cache_of(path).parent.mkdir()
    with read_only(cache_of(path).parent):
        assert workflow_file.load(path) == parsed_fresh(path)
        assert workflow_file.load(path) == parsed_fresh(path)
    assert not cache_of(path).exists()
    assert len(no_parse) == 2


def test_a_read_only_stale_cache_is_ignored(path: Path) -> None:
    workflow_file.load(path)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("label: Enhancement request", "label: Other", 1), encoding="utf-8")
    with read_only(cache_of(path), cache_of(path).parent):
        assert workflow_file.load(path).type("enhancement").label == "Other"


def test_a_cache_folder_that_is_a_file_still_loads_the_workflow(path: Path) -> None:
    cache_of(path).parent.write_text("not a folder", encoding="utf-8")
    assert workflow_file.load(path) == parsed_fresh(path)
    assert workflow_file.load(path) == parsed_fresh(path)


def test_a_folder_without_git_is_parsed_every_time_and_nothing_is_written(
    path: Path, no_parse: list[Path]
) -> None:
    (path.parent / ".git").rmdir()
    assert workflow_file.load(path) == workflow_file.load(path) == parsed_fresh(path)
    assert no_parse == [path, path]
    assert sorted(p.name for p in path.parent.iterdir()) == ["workflow.yaml"]


def test_a_worktree_keeps_the_cache_in_the_git_folder_its_git_file_names(
    path: Path, tmp_path: Path, no_parse: list[Path]
) -> None:
    (path.parent / ".git").rmdir()
    git_dir = tmp_path / "main.git" / "worktrees" / "store"
    git_dir.mkdir(parents=True)
    (path.parent / ".git").write_text(f"gitdir: {git_dir}\n", encoding="utf-8")

    assert workflow_file.load(path) == workflow_file.load(path)
    assert (git_dir / "erflow" / "workflow.cache").is_file()
    assert no_parse == [path]


def test_a_cache_in_the_work_tree_is_never_read(path: Path, no_parse: list[Path]) -> None:
    workflow_file.load(path)
    planted = path.parent / ".erflow" / "workflow.cache"  # where a commit could put one
    planted.parent.mkdir()
    cache_of(path).rename(planted)

    workflow_file.load(path)
    assert no_parse == [path, path]


def test_a_moved_store_keeps_its_cache_and_its_workflow_names_the_new_path(
    path: Path, tmp_path: Path, no_parse: list[Path]
) -> None:
    workflow_file.load(path)
    moved = tmp_path / "moved"
    shutil.copytree(path.parent, moved)

    loaded = workflow_file.load(moved / "workflow.yaml")
    assert loaded.path == moved / "workflow.yaml"
    assert no_parse == [path]


def test_a_calendar_in_a_named_zone_comes_back_from_the_cache(path: Path) -> None:
    text = path.read_text(encoding="utf-8")
    edited = text.replace('calendar:\n  timezone: "+00:00"', "calendar:\n  timezone: Europe/Berlin").replace(
        "holidays: []", "holidays: ['2026-12-25']"
    )
    assert edited.count("Europe/Berlin") == 1
    path.write_text(edited, encoding="utf-8")
    first = workflow_file.load(path)
    cached = workflow_cache.read(path)
    assert cached is not None
    assert cached == first
    assert str(cached.calendar.tz) == "Europe/Berlin"


def test_the_cache_pickle_names_only_the_classes_the_reader_allows(path: Path) -> None:
    workflow_file.load(path)
    payload = cache_of(path).read_bytes()[workflow_cache._PICKLE :]
    named: set[tuple[str, str]] = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            named.add((module, name))
            return super().find_class(module, name)

    Recording(io.BytesIO(payload)).load()
    assert named <= workflow_cache._ALLOWED
    assert ("erflow.core.workflow", "Workflow") in named


def test_a_cached_load_imports_neither_pyyaml_nor_the_loader(path: Path) -> None:
    workflow_file.load(path)
    code = (
        "import sys; from pathlib import Path; from erflow.store import workflow_file; "
        f"workflow_file.load(Path({str(path)!r})); "
        "print(sorted(m for m in ('yaml', 'erflow.core.yamlio', 'erflow.core.loader') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout == "[]\n"
