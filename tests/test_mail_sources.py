"""The inbound mail sources against real parts: a Dovecot IMAP server, Maildir folders and mbox files.

Each source yields the raw bytes of the messages not yet processed, oldest first; ``done`` marks one
so that the next reading skips it (except mbox, read whole every time).
"""

from __future__ import annotations

import mailbox
import os
import threading
import time
from pathlib import Path

import pytest
from imapserver import Dovecot

from erflow.core.errors import MailSourceError, UsageError
from erflow.mail.imap import ImapConfig, ImapSource
from erflow.mail.sources import Incoming, MaildirSource, MboxSource


def raw(number: int, body: bytes = b"Hello.\r\n") -> bytes:
    """A message with a folded header, 8-bit text and CRLF line ends, as IMAP stores them."""
    return (
        b"From: Jane Doe <jane@acme.example>\r\n"
        b"To: desk@example.com\r\n"
        b"Subject: =?utf-8?q?Re=3A_Export_=E2=80=93?=\r\n"
        b"  part " + str(number).encode() + b"\r\n"
        b"Message-ID: <m" + str(number).encode() + b"@acme.example>\r\n"
        b"Content-Type: text/plain; charset=utf-8\r\n"
        b"Content-Transfer-Encoding: 8bit\r\n"
        b"\r\n" + "Grüße – ".encode() + body
    )


def imap(dovecot: Dovecot, folder: str, tls: str = "ssl", **changes: str) -> ImapSource:
    config = ImapConfig.from_env({**dovecot.env(tls, folder), **changes})
    assert config is not None
    return ImapSource(config, timeout=10)


# ---------------------------------------------------------------------------------------------
# IMAP


def test_imap_yields_the_unprocessed_messages_as_stored_and_done_marks_one(
    dovecot: Dovecot, imap_folder: str
) -> None:
    messages = [raw(1), raw(2, b"x" * 70_000 + b"\r\n"), raw(3)]
    for data in messages:
        dovecot.append(data, imap_folder)
    with imap(dovecot, imap_folder) as source:
        first = list(source.messages())
        assert [item.data for item in first] == messages
        assert [item.where for item in first] == [f"imap {imap_folder} uid {n}" for n in (1, 2, 3)]
        assert dovecot.flags(imap_folder) == {f"<m{n}@acme.example>": set() for n in (1, 2, 3)}

        source.done(first[1])
        assert dovecot.flags(imap_folder) == {
            "<m1@acme.example>": set(),
            "<m2@acme.example>": {"\\Seen", "$Erflow"},
            "<m3@acme.example>": set(),
        }
        assert [item.data for item in source.messages()] == [messages[0], messages[2]]
    with imap(dovecot, imap_folder) as again:
        assert [item.key for item in again.messages()] == ["1", "3"]


def test_imap_a_message_read_by_a_person_is_still_unprocessed(dovecot: Dovecot, imap_folder: str) -> None:
    dovecot.append(raw(1), imap_folder)
    with dovecot.client() as client:
        client.select(f'"{imap_folder}"')
        assert client.uid("STORE", "1", "+FLAGS", "(\\Seen)")[0] == "OK"
    assert dovecot.flags(imap_folder) == {"<m1@acme.example>": {"\\Seen"}}
    with imap(dovecot, imap_folder) as source:
        assert [item.data for item in source.messages()] == [raw(1)]


@pytest.mark.parametrize("tls", ["ssl", "starttls", "none"])
def test_imap_connects_in_every_tls_mode(dovecot: Dovecot, imap_folder: str, tls: str) -> None:
    """ssl on the implicit-TLS port, starttls and none on the other (Dovecot trusts loopback as
    secured, so it lets a plain session log in from 127.0.0.1)."""
    dovecot.append(raw(1), imap_folder)
    changes = {"ERFLOW_IMAP_PORT": str(dovecot.port)} if tls == "none" else {}
    with imap(dovecot, imap_folder, tls, **changes) as source:
        assert [item.data for item in source.messages()] == [raw(1)]


def test_imap_wrong_password_is_one_line_naming_the_server(dovecot: Dovecot, imap_folder: str) -> None:
    with pytest.raises(MailSourceError) as caught:
        imap(dovecot, imap_folder, ERFLOW_IMAP_PASSWORD="not-the-password")
    message = str(caught.value)
    assert message == (
        f"cannot connect via IMAP 127.0.0.1:{dovecot.ssl_port} (ssl): login as 'desk' refused "
        "([AUTHENTICATIONFAILED] Authentication failed.)"
    )
    assert "not-the-password" not in message


@pytest.mark.parametrize("tls", ["ssl", "starttls"])
def test_imap_refuses_an_untrusted_certificate(dovecot: Dovecot, imap_folder: str, tls: str) -> None:
    env = dovecot.env(tls, imap_folder)
    del env["ERFLOW_IMAP_CAFILE"]
    config = ImapConfig.from_env(env)
    assert config is not None
    with pytest.raises(MailSourceError) as caught:
        ImapSource(config, timeout=10)
    assert str(caught.value).startswith(f"cannot connect via IMAP 127.0.0.1:{config.port} ({tls}): ")
    assert caught.value.message.endswith("TLS certificate not trusted (self-signed certificate)")
    assert caught.value.hint == "set ERFLOW_IMAP_CAFILE to a CA bundle that trusts the server"


def test_imap_a_missing_folder_or_server_is_named(dovecot: Dovecot) -> None:
    with pytest.raises(MailSourceError, match=r"folder 'No such' cannot be opened \(Mailbox doesn't exist"):
        imap(dovecot, "No such")
    closed = str(_closed_port())
    with pytest.raises(
        MailSourceError, match=rf"^cannot connect via IMAP 127.0.0.1:{closed} \(ssl\): .*refused"
    ):
        imap(dovecot, "INBOX", ERFLOW_IMAP_PORT=closed)


def test_imap_wait_returns_when_mail_arrives(dovecot: Dovecot, imap_folder: str) -> None:
    with imap(dovecot, imap_folder) as source:
        started = time.monotonic()
        source.wait(0.3)
        assert 0.25 < time.monotonic() - started < 3  # nothing came: the whole wait

        timer = threading.Timer(0.3, dovecot.append, (raw(1), imap_folder))
        timer.start()
        started = time.monotonic()
        source.wait(20)
        took = time.monotonic() - started
        timer.join()
        assert 0.2 < took < 10, took  # IDLE told of the new message long before the 20 s
        assert [item.data for item in source.messages()] == [raw(1)]


# ---------------------------------------------------------------------------------------------
# ImapConfig.from_env

BASE = {"ERFLOW_IMAP_HOST": "imap.example.com", "ERFLOW_IMAP_USER": "desk", "ERFLOW_IMAP_PASSWORD": "pw"}


def test_imap_config_defaults_and_absence(tmp_path: Path) -> None:
    assert ImapConfig.from_env({}) is None
    assert ImapConfig.from_env({"ERFLOW_IMAP_HOST": " ", "ERFLOW_IMAP_USER": "desk"}) is None
    assert ImapConfig.from_env(BASE) == ImapConfig("imap.example.com", 993, "desk", "pw", "ssl", "INBOX")
    for tls, port in [("STARTTLS", 143), ("none", 143), ("ssl", 993)]:
        config = ImapConfig.from_env({**BASE, "ERFLOW_IMAP_TLS": tls})
        assert config is not None and (config.tls, config.port) == (tls.lower(), port)
    ca = tmp_path / "ca.pem"
    ca.write_text("-")
    config = ImapConfig.from_env(
        {
            **BASE,
            "ERFLOW_IMAP_PORT": "1143",
            "ERFLOW_IMAP_FOLDER": "Support/Desk",
            "ERFLOW_IMAP_CAFILE": str(ca),
        }
    )
    assert config == ImapConfig("imap.example.com", 1143, "desk", "pw", "ssl", "Support/Desk", str(ca))
    assert "pw" not in repr(config).replace("password", "")
    assert "password='***'" in repr(config)


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"ERFLOW_IMAP_HOST": "imap example"}, "ERFLOW_IMAP_HOST is not a host name: 'imap example'"),
        ({"ERFLOW_IMAP_TLS": "tls"}, "ERFLOW_IMAP_TLS must be ssl, starttls or none, not 'tls'"),
        ({"ERFLOW_IMAP_PORT": "imap"}, "ERFLOW_IMAP_PORT must be a port number, not 'imap'"),
        ({"ERFLOW_IMAP_PORT": "0"}, "ERFLOW_IMAP_PORT must be a port number, not '0'"),
        ({"ERFLOW_IMAP_PORT": "65536"}, "ERFLOW_IMAP_PORT must be a port number, not '65536'"),
        ({"ERFLOW_IMAP_USER": ""}, "ERFLOW_IMAP_USER is not set (IMAP needs a user and a password)"),
        ({"ERFLOW_IMAP_PASSWORD": ""}, "ERFLOW_IMAP_PASSWORD is not set (IMAP needs a user and a password)"),
        ({"ERFLOW_IMAP_FOLDER": "IN\nBOX"}, "ERFLOW_IMAP_FOLDER is not a folder name: 'IN\\nBOX'"),
        ({"ERFLOW_IMAP_CAFILE": "/no/such/ca.pem"}, "ERFLOW_IMAP_CAFILE is not a file: '/no/such/ca.pem'"),
    ],
)
def test_imap_config_refuses_bad_values(changes: dict[str, str], error: str) -> None:
    with pytest.raises(UsageError) as caught:
        ImapConfig.from_env({**BASE, **changes})
    assert str(caught.value) == error


# ---------------------------------------------------------------------------------------------
# Maildir


def maildir_with(path: Path) -> list[str]:
    """A Maildir of four messages, oldest first: new, in cur/ flagged F, in cur/ seen (S), new.

    ``mailbox.Maildir.add`` stores the bytes as given (a MaildirMessage would be re-serialised), then
    a rename gives a message its place and flags, as mail clients do."""
    box = mailbox.Maildir(path, create=True)
    keys = []
    for number, (subdir, flags) in enumerate([("new", ""), ("cur", "F"), ("cur", "S"), ("new", "")], 1):
        key = box.add(raw(number))
        name = f"{subdir}/{key}:2,{flags}" if subdir == "cur" else f"new/{key}"
        (path / "new" / key).rename(path / name)
        stamp = 1_700_000_000 + number * 60
        os.utime(path / name, (stamp, stamp))
        keys.append(key)
    return keys


def test_maildir_yields_new_and_unseen_and_done_moves_to_cur_seen(tmp_path: Path) -> None:
    keys = maildir_with(tmp_path / "Maildir")
    source = MaildirSource(tmp_path / "Maildir")
    items = list(source.messages())
    assert [item.data for item in items] == [raw(1), raw(2), raw(4)]  # 3 is flagged seen
    assert [item.key for item in items] == [keys[0], keys[1], keys[3]]
    assert items[0].where == f"maildir new/{keys[0]}"
    assert items[1].where == f"maildir cur/{keys[1]}:2,F"

    source.done(items[0])
    source.done(items[1])
    names = sorted(p.name for p in (tmp_path / "Maildir" / "cur").iterdir())
    assert names == sorted([f"{keys[0]}:2,S", f"{keys[1]}:2,FS", f"{keys[2]}:2,S"])
    assert [p.name for p in (tmp_path / "Maildir" / "new").iterdir()] == [keys[3]]
    assert (tmp_path / "Maildir" / "cur" / f"{keys[0]}:2,S").read_bytes() == raw(1)
    assert [item.data for item in source.messages()] == [raw(4)]


def test_maildir_done_finds_a_message_a_mail_client_moved(tmp_path: Path) -> None:
    maildir_with(tmp_path / "md")
    source = MaildirSource(tmp_path / "md")
    newest = list(source.messages())[-1]
    (tmp_path / "md" / "new" / newest.key).rename(tmp_path / "md" / "cur" / f"{newest.key}:2,R")
    source.done(newest)
    assert (tmp_path / "md" / "cur" / f"{newest.key}:2,RS").read_bytes() == raw(4)
    assert newest.key not in [item.key for item in source.messages()]


def test_maildir_refuses_a_missing_or_other_folder(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="the folder does not exist") as caught:
        MaildirSource(tmp_path / "nowhere")
    assert str(tmp_path / "nowhere") in str(caught.value)
    (tmp_path / "plain" / "new").mkdir(parents=True)
    with pytest.raises(UsageError) as caught:
        MaildirSource(tmp_path / "plain")
    assert str(caught.value) == f"{str(tmp_path / 'plain')!r} is not a Maildir: it has no cur/, tmp/"


# ---------------------------------------------------------------------------------------------
# mbox


def test_mbox_yields_every_message_every_time_and_never_writes(tmp_path: Path) -> None:
    path = tmp_path / "desk.mbox"
    box = mailbox.mbox(path)
    bodies = [
        b"Subject: one\n\nFrom here on, a quoted line.\n",
        b"Subject: two\n\nok\n",
        b"Subject: 3\n\nx\n",
    ]
    for data in bodies:
        box.add(data)
    box.close()
    before = path.read_bytes()
    with MboxSource(path) as source:
        items = list(source.messages())
        assert [item.data for item in items] == [
            b"Subject: one\n\n>From here on, a quoted line.\n",  # the From_ quoting, as stored
            b"Subject: two\n\nok\n",
            b"Subject: 3\n\nx\n",
        ]
        assert [item.where for item in items] == ["mbox message 1", "mbox message 2", "mbox message 3"]
        source.done(items[0])
        assert [item.data for item in source.messages()] == [item.data for item in items]
    assert path.read_bytes() == before


def test_mbox_refuses_a_missing_or_other_file_and_reads_an_empty_one(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no mbox file at"):
        MboxSource(tmp_path / "none.mbox")
    (tmp_path / "note.txt").write_text("Subject: not an mbox\n\n")
    with pytest.raises(UsageError, match="is not an mbox file"):
        MboxSource(tmp_path / "note.txt")
    (tmp_path / "empty.mbox").write_bytes(b"")
    assert list(MboxSource(tmp_path / "empty.mbox").messages()) == []


def test_incoming_repr_leaves_the_bytes_out() -> None:
    assert repr(Incoming("mbox message 1", b"secret body", "1")) == (
        "Incoming(where='mbox message 1', key='1')"
    )


def _closed_port() -> int:
    from conftest import free_port

    return free_port()


def test_the_test_server_fails_clearly_without_dovecot(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import imapserver

    monkeypatch.setattr(imapserver, "DOVECOT", str(tmp_path / "no-dovecot"))
    missing = r"no-dovecot is missing: install it \(apt-get install -y dovecot-imapd\)"
    with pytest.raises(RuntimeError, match=missing):
        imapserver.Dovecot(tmp_path).start()
