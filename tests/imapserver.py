"""A real Dovecot IMAP server for the tests, with a throwaway configuration.

``Dovecot.start()`` writes a config that owes nothing to /etc/dovecot (``dovecot -c CONF``), a
self-signed certificate for 127.0.0.1 (openssl), a passwd-file with one user, and starts
``dovecot -F`` listening on two free ports of 127.0.0.1: one for STARTTLS, one for implicit TLS
(``ssl = required``, though Dovecot counts 127.0.0.1 as secured and lets a plain session log in).

Dovecot refuses to give mail access to root and runs its login and internal processes as other
users. Run as root (here and in CI), it uses the ``dovecot`` and ``dovenull`` users the Debian package
creates, and the mail belongs to ``dovecot``; run as anyone else, every process and the mail are that
user's (and no service chroots, which needs root). Either way everything lives in one directory made
with ``tempfile`` outside pytest's tmp_path (whose parent is private to root, so Dovecot's
unprivileged processes could not reach it).
Failed logins are not slowed down (no auth penalty), so a test of a wrong password costs nothing.
"""

from __future__ import annotations

import contextlib
import grp
import imaplib
import os
import pwd
import shutil
import socket
import ssl
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.parser import BytesHeaderParser
from pathlib import Path

DOVECOT = "/usr/sbin/dovecot"
USER = "desk"
PASSWORD = "Imap-Pa55word-plugh"


@dataclass
class Dovecot:
    """A running Dovecot: where it listens, who may log in, the CA to trust, its files."""

    root: Path
    host: str = "127.0.0.1"
    port: int = 0  # STARTTLS
    ssl_port: int = 0  # implicit TLS
    user: str = USER
    password: str = PASSWORD
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def cafile(self) -> str:
        return str(self.root / "cert.pem")

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else "(no log)"

    def env(self, tls: str = "ssl", folder: str = "INBOX") -> dict[str, str]:
        """ERFLOW_IMAP_* settings that reach this server (``tls``: ssl or starttls)."""
        return {
            "ERFLOW_IMAP_HOST": self.host,
            "ERFLOW_IMAP_PORT": str(self.ssl_port if tls == "ssl" else self.port),
            "ERFLOW_IMAP_USER": self.user,
            "ERFLOW_IMAP_PASSWORD": self.password,
            "ERFLOW_IMAP_TLS": tls,
            "ERFLOW_IMAP_FOLDER": folder,
            "ERFLOW_IMAP_CAFILE": self.cafile,
        }

    @contextlib.contextmanager
    def client(self) -> Iterator[imaplib.IMAP4_SSL]:
        """A logged-in imaplib session over implicit TLS, trusting the test CA."""
        context = ssl.create_default_context(cafile=self.cafile)
        imap = imaplib.IMAP4_SSL(self.host, self.ssl_port, ssl_context=context, timeout=10)
        try:
            imap.login(self.user, self.password)
            yield imap
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                imap.logout()

    def create(self, folder: str) -> None:
        """Make a folder (one per test keeps tests apart on the shared server)."""
        with self.client() as imap:
            typ, answer = imap.create(_quote(folder))
            assert typ == "OK", answer

    def append(self, data: bytes, folder: str = "INBOX") -> None:
        """Store a message in ``folder`` as it is, with no flags."""
        with self.client() as imap:
            typ, answer = imap.append(_quote(folder), "", None, data)
            assert typ == "OK", answer

    def flags(self, folder: str = "INBOX") -> dict[str, set[str]]:
        """Each message's flags, by its Message-ID (by UID for one without)."""
        found: dict[str, set[str]] = {}
        with self.client() as imap:
            typ, answer = imap.select(_quote(folder), readonly=True)
            assert typ == "OK", answer
            typ, data = imap.uid("FETCH", "1:*", "(UID FLAGS BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)])")
            assert typ == "OK", data
            for part in data:
                if not isinstance(part, tuple):
                    continue
                info = set(imaplib.ParseFlags(part[0]) or ()) - {b"\\Recent"}
                uid = part[0].split(b"UID ", 1)[1].split()[0].decode()
                message_id = BytesHeaderParser().parsebytes(part[1])["Message-ID"]
                found[str(message_id or uid).strip()] = {f.decode() for f in info}
        return found

    def start(self, timeout: float = 15.0) -> None:
        """Configure and start Dovecot on ``port`` and ``ssl_port``; RuntimeError with its log if it
        does not listen within ``timeout`` seconds."""
        if not Path(DOVECOT).is_file():
            raise RuntimeError(f"{DOVECOT} is missing: install it (apt-get install -y dovecot-imapd)")
        owner = _mail_owner()
        home = self.root / "home" / self.user
        for sub in ("run", "state", "home", home):
            (self.root / sub).mkdir(parents=True, exist_ok=True)
        os.chown(home, owner.pw_uid, owner.pw_gid)
        self.root.chmod(0o755)
        subprocess.run(
            [
                "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                "-keyout", str(self.root / "key.pem"), "-out", self.cafile,
            ],
            check=True,
            capture_output=True,
        )  # fmt: skip
        passwd = self.root / "passwd"
        passwd.write_text(f"{self.user}:{{PLAIN}}{self.password}:{owner.pw_uid}:{owner.pw_gid}::{home}\n")
        passwd.chmod(0o644)
        conf = self.root / "dovecot.conf"
        conf.write_text(_config(self, owner))
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(conf)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + timeout
        while True:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode(errors="replace") if self.process.stdout else ""
                raise RuntimeError(f"dovecot exited ({self.process.returncode}):\n{output}\n{self.log}")
            if _accepts(self.host, self.port) and _accepts(self.host, self.ssl_port):
                return
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"dovecot did not listen within {timeout} s:\n{self.log}")
            time.sleep(0.05)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process is not None and self.process.stdout is not None:
            self.process.stdout.close()


@contextlib.contextmanager
def running(port: int, ssl_port: int) -> Iterator[Dovecot]:
    """A started Dovecot in a fresh directory, stopped and removed afterwards."""
    root = Path(tempfile.mkdtemp(prefix="erflow-dovecot-"))
    server = Dovecot(root, port=port, ssl_port=ssl_port)
    try:
        server.start()
        yield server
    finally:
        server.stop()
        shutil.rmtree(root, ignore_errors=True)


def _mail_owner() -> pwd.struct_passwd:
    """Who owns the mail: ``dovecot`` when running as root (Dovecot refuses root), else oneself."""
    if os.geteuid() == 0:
        return pwd.getpwnam("dovecot")
    return pwd.getpwuid(os.geteuid())


def _config(server: Dovecot, owner: pwd.struct_passwd) -> str:
    root = server.root
    if os.geteuid() == 0:
        internal, login = "dovecot", "dovenull"
    else:
        internal = login = owner.pw_name
    return f"""\
protocols = imap
listen = 127.0.0.1
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
instance_name = erflow-test-{server.port}
default_internal_user = {internal}
default_internal_group = {grp.getgrgid(pwd.getpwnam(internal).pw_gid).gr_name}
default_login_user = {login}
first_valid_uid = {owner.pw_uid}
last_valid_uid = {owner.pw_uid}
first_valid_gid = 0
ssl = required
ssl_cert = <{root}/cert.pem
ssl_key = <{root}/key.pem
auth_mechanisms = plain login
auth_failure_delay = 0
disable_plaintext_auth = yes
mail_location = maildir:~/Maildir
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/passwd
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {root}/passwd
}}
service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {server.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {server.ssl_port}
    ssl = yes
  }}
}}
service anvil {{
  chroot =
  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service auth-worker {{
  user = $default_internal_user
}}
"""


def _accepts(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


def _quote(folder: str) -> str:
    return '"' + folder.replace("\\", "\\\\").replace('"', '\\"') + '"'
