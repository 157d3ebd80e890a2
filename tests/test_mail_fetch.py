"""``erflow mail fetch``: a batch from a Maildir, an mbox, or a real Dovecot over IMAP, each message
taken in exactly once, also when the process is killed at any point and run again."""

from __future__ import annotations

import mailbox
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

from conftest import CUSTOMER_EMAIL, PM, Cli, git
from imapserver import Dovecot
from test_mail_in import message

from erflow.store import faults


def replies(run: Cli, count: int) -> tuple[list[str], list[bytes]]:
    """``count`` tickets in needs_info and one reply from the customer to each."""
    ids = []
    for _ in range(count):
        ticket_id = run.new()
        run.json("advance", ticket_id, "submit", user="support@example.com")
        run.json("advance", ticket_id, "request_info", "--set", "info_needed=More?", user=PM)
        ids.append(ticket_id)
    data = [message(f"Re: [{t}] more", f"Answer for {t}.", message_id=f"<r-{t}@acme.example>") for t in ids]
    return ids, data


def fetch(
    root: Path, source: list[str], point: str | None = None, extra: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "ERFLOW_USER": PM, **(extra or {})}
    env.pop(faults.ENV, None)
    if point:
        env[faults.ENV] = point
    return subprocess.run(
        [sys.executable, "-m", "erflow", "mail", "fetch", *source, "--store", str(root)],
        capture_output=True, text=True, env=env,
    )  # fmt: skip


def received_commits(root: Path) -> list[str]:
    """The commits customers made by email: replies that moved a ticket, and new tickets."""
    log = git(root, "log", "--format=%ae %s")
    return [
        line
        for line in log.splitlines()
        if line.startswith(CUSTOMER_EMAIL) and (" advance " in line or " new " in line)
    ]


def test_a_maildir_batch_is_taken_in_once_and_marked_seen(run: Cli, store: Path, tmp_path: Path) -> None:
    ids, data = replies(run, 3)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for one in data:
        box.add(one)
    done = fetch(store, ["--maildir", str(tmp_path / "Maildir")])
    assert done.returncode == 0, done.stderr
    assert [run.state(t) for t in ids] == ["pm_review"] * 3
    assert not list((tmp_path / "Maildir" / "new").iterdir())
    assert all("S" in m.get_flags() for m in mailbox.Maildir(tmp_path / "Maildir", create=False))
    again = fetch(store, ["--maildir", str(tmp_path / "Maildir")])
    assert again.returncode == 0 and "no new messages" in again.stderr
    assert len(received_commits(store)) == 3


def test_an_mbox_is_read_not_rewritten_and_known_messages_change_nothing(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    ids, data = replies(run, 2)
    box = mailbox.mbox(tmp_path / "desk.mbox", create=True)
    for one in data:
        box.add(one)
    box.flush()
    before = (tmp_path / "desk.mbox").read_bytes()
    assert fetch(store, ["--mbox", str(tmp_path / "desk.mbox")]).returncode == 0
    head = run.head()
    second = fetch(store, ["--mbox", str(tmp_path / "desk.mbox")])
    assert second.returncode == 0 and "2 duplicate" in second.stderr
    assert run.head() == head and (tmp_path / "desk.mbox").read_bytes() == before
    assert [run.state(t) for t in ids] == ["pm_review"] * 2


def test_killed_at_any_point_of_a_fetch_each_message_is_processed_exactly_once(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    ids, data = replies(run, 4)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    for one in data:
        box.add(one)
    source = ["--maildir", str(tmp_path / "Maildir")]
    points = [*faults.WRITE_POINTS, "mail-received"]
    rng = random.Random(13)
    for _ in range(6):  # bounded: six kills at points drawn at random, then a run to the end
        killed = fetch(store, source, rng.choice(points))
        assert killed.returncode in (-signal.SIGKILL, 0), killed.stderr
    finished = fetch(store, source)
    assert finished.returncode == 0, finished.stderr
    assert [run.state(t) for t in ids] == ["pm_review"] * 4
    assert sorted(received_commits(store)) == sorted(set(received_commits(store)))
    assert len(received_commits(store)) == 4  # one commit per message, whatever was killed
    assert not list((tmp_path / "Maildir" / "new").iterdir())
    assert git(store, "status", "--porcelain").strip() == ""
    run.ok("audit", user=PM)


def test_fetch_over_imap_takes_each_message_in_once_and_flags_it_on_the_server(
    run: Cli, store: Path, dovecot: Dovecot, imap_folder: str
) -> None:
    ids, data = replies(run, 2)
    for one in data:
        dovecot.append(one, imap_folder)
    stray = message("Hello desk", "A new request.", message_id="<new-1@acme.example>")
    dovecot.append(stray, imap_folder)
    env = dovecot.env("starttls", imap_folder)

    killed = fetch(store, [], "mail-received", env)  # killed after the first commit, before its flags
    assert killed.returncode == -signal.SIGKILL
    assert all("$Erflow" not in flags for flags in dovecot.flags(imap_folder).values())
    done = fetch(store, [], None, env)
    assert done.returncode == 0, done.stderr + dovecot.log
    flags = dovecot.flags(imap_folder)
    assert set(flags) == {f"<r-{t}@acme.example>" for t in ids} | {"<new-1@acme.example>"}
    assert all({"\\Seen", "$Erflow"} <= seen for seen in flags.values())
    assert [run.state(t) for t in ids] == ["pm_review"] * 2
    assert len(received_commits(store)) == 3  # two replies moved, one new ticket; each once
    assert "1 duplicate" in done.stderr  # the message killed before its flags: known again, not redone
    again = fetch(store, [], None, env)
    assert again.returncode == 0 and "no new messages" in again.stderr


def test_fetch_over_imap_with_a_wrong_password_says_so_in_one_line(store: Path, dovecot: Dovecot) -> None:
    env = {**dovecot.env("ssl"), "ERFLOW_IMAP_PASSWORD": "wrong"}
    failed = fetch(store, [], None, env)
    assert failed.returncode != 0 and len(failed.stderr.strip().splitlines()) == 1
    assert "Traceback" not in failed.stderr


def test_watch_keeps_taking_mail_in_as_it_arrives_until_interrupted(
    run: Cli, store: Path, tmp_path: Path
) -> None:
    ids, data = replies(run, 1)
    box = mailbox.Maildir(tmp_path / "Maildir", create=True)
    env = {**os.environ, "ERFLOW_USER": PM}
    env.pop(faults.ENV, None)
    watcher = subprocess.Popen(
        [sys.executable, "-m", "erflow", "mail", "fetch", "--maildir", str(tmp_path / "Maildir"),
         "--watch", "0.2", "--store", str(store)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )  # fmt: skip
    try:
        box.add(data[0])  # arrives while it watches
        deadline = time.monotonic() + 30
        # The commit, not the file: the ticket file is written just before its commit, and a SIGINT
        # between the two undoes the change (as it should).
        while not received_commits(store) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert run.state(ids[0]) == "pm_review"
    finally:
        watcher.send_signal(signal.SIGINT)
        _, err = watcher.communicate(timeout=90)
    assert watcher.returncode == 130 and "Traceback" not in err
    assert len(received_commits(store)) == 1
