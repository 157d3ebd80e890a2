"""Failpoints: places in the write path where erflow kills itself, as ``kill -9`` would, when told to.

A testing aid. With ``ERFLOW_FAILPOINT=<name>`` in its environment, an erflow process sends itself
SIGKILL on reaching the point of that name, so a test can prove that the next command recovers from
an interruption there (see erflow/store/journal.py). Without the variable a point costs one look-up.

=================  ============================================================================
point              where the process dies
=================  ============================================================================
journal-written    the journal is on disk; no file of the change has been touched yet
mid-write          inside ``files.write_atomic``: the first file's temp file is written and
                   synced, not yet renamed over the file (a stray ``.<name>.*.tmp`` is left)
files-written      every file of the change is written; ``git add`` has not run
committed          the commit has landed (with the outbox entries of its emails) and the journal
                   names it; no email has gone out and the journal is still there
sending            an outbox message is marked "sending" (erflow/store/outbox.py); its SMTP
                   transaction is about to begin
smtp-accepted      the SMTP server has accepted an outbox message; it is not yet marked sent
mail-received      ``mail fetch``: a message's commit has landed; it is not yet marked processed
                   at its source (IMAP, Maildir)
=================  ============================================================================
"""

from __future__ import annotations

import os
import signal

ENV = "ERFLOW_FAILPOINT"
POINTS = ("journal-written", "mid-write", "files-written", "committed", "sending", "smtp-accepted")
WRITE_POINTS = POINTS[:4]  # those of the write path (the others: delivering the outbox)


def point(name: str) -> None:
    """Die here, at once and without cleaning up, if ERFLOW_FAILPOINT names this point."""
    if os.environ.get(ENV) == name:
        os.kill(os.getpid(), signal.SIGKILL)
