#!/usr/bin/env python3
"""Inbound mail throughput: N customer replies from a Maildir into a store of bench.py's.

    python bench/mail_bench.py [--size 10000] [--messages 1000] [--runs 5] [--out bench/results-mail.md]

The store (``bench/stores/er-SIZE``, built by ``bench.py --sizes SIZE --build-only``) is copied, so the
built one stays as it was. Each message is a reply from a ticket's customer, tagged ``[ID]`` in its
subject, to a distinct ticket; ``erflow mail fetch --maildir`` takes them all in (one commit each).
Beside it, in the same run: ``python -c pass`` and one ``erflow note`` on the same store (median of
``--runs``), so that the cost per message reads against the cost of the cheapest change.
"""

from __future__ import annotations

import argparse
import mailbox
import os
import shutil
import statistics
import subprocess  # noqa: TID251 - the benchmark drives git and erflow as whole processes
import sys
import tempfile
import time
from email.message import EmailMessage
from pathlib import Path

HERE = Path(__file__).resolve().parent
MOVED = "Erflow-Transition: info_received"


def timed(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, env=env, check=True, capture_output=True)
    return time.perf_counter() - started


def replies(root: Path, count: int) -> list[bytes]:
    """One reply per ticket, from its customer, for the first ``count`` tickets that have one."""
    sys.path.insert(0, str(HERE.parent))
    from erflow.store.tickets import Store

    store = Store(root)
    made: list[bytes] = []
    for path in sorted((root / "tickets").rglob("*.md")):
        ticket = store.read_path(path).ticket
        customer = ticket.meta.get("customer_email")
        if not customer or ticket.type != "enhancement":
            continue
        msg = EmailMessage()
        msg["From"] = f"{ticket.meta.get('customer_name') or 'Customer'} <{customer}>"
        msg["To"] = "desk@example.com"
        msg["Subject"] = f"Re: [{ticket.id}] your request"
        msg["Message-ID"] = f"<bench-{len(made)}-{ticket.id.lower()}@customer.example>"
        msg["Date"] = "Fri, 04 Dec 2026 10:00:00 +0000"
        msg.set_content(
            f"Thanks, here is what you asked for about {ticket.id}.\n\nBest,\nA customer\n\n"
            "On Thu, Dec 3, 2026 at 10:00 AM Desk <desk@example.com> wrote:\n> Could you tell us more?\n"
        )
        made.append(msg.as_bytes())
        if len(made) == count:
            break
    return made


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--size", type=int, default=10000)
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--out", type=Path, default=HERE / "results-mail.md")
    parser.add_argument("--stores", type=Path, default=HERE / "stores")
    args = parser.parse_args()
    built = args.stores / f"er-{args.size}"
    if not (built / "workflow.yaml").is_file():
        print(f"no store {built}: python bench/bench.py --sizes {args.size} --build-only", file=sys.stderr)
        return 2
    env = {**os.environ, "ERFLOW_USER": "destyn@example.com"}
    erflow = [sys.executable, "-m", "erflow"]
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "store"
        shutil.copytree(built, root, symlinks=True)
        box = mailbox.Maildir(Path(tmp) / "Maildir", create=True)
        for data in replies(root, args.messages):
            box.add(data)
        count = len(box)
        subprocess.run(
            [*erflow, "list", "--json", "--store", str(root)], env=env, check=True, capture_output=True
        )
        subprocess.run(["git", "-C", str(root), "status", "--short"], check=True, capture_output=True)
        start = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "HEAD"], check=True, capture_output=True, text=True
        ).stdout.strip()
        python = statistics.median(timed([sys.executable, "-c", "pass"], env) for _ in range(args.runs))
        ticket = next(iter(sorted((root / "tickets").rglob("*.md")))).stem
        note = statistics.median(
            timed([*erflow, "note", ticket, f"bench note {i}", "--store", str(root)], env)
            for i in range(args.runs)
        )
        took = timed(
            [*erflow, "mail", "fetch", "--maildir", str(Path(tmp) / "Maildir"), "--store", str(root)], env
        )
        commits = subprocess.run(
            ["git", "-C", str(root), "rev-list", "--count", f"{start}..HEAD", f"--grep={MOVED}"],
            capture_output=True, text=True, check=True,
        ).stdout.strip()  # fmt: skip
        left = sum(1 for _ in (Path(tmp) / "Maildir" / "new").iterdir())
    per = took / count
    lines = [
        f"# Inbound mail: {count} customer replies from a Maildir into a {args.size:,}-ticket store",
        "",
        f"`python bench/mail_bench.py --size {args.size} --messages {args.messages} --runs {args.runs}`",
        "",
        "| what | time |",
        "|---|---|",
        f"| `python -c pass` (median of {args.runs}) | {python * 1000:.0f} ms |",
        f"| `erflow note` (one change, median of {args.runs}) | {note * 1000:.0f} ms |",
        f"| `erflow mail fetch --maildir` ({count} messages) | {took:.1f} s |",
        f"| per message | {per * 1000:.0f} ms ({per / note:.2f} × one `note`) |",
        f"| messages per second | {count / took:.1f} |",
        "",
        f"Left unprocessed in the Maildir afterwards: {left}. Replies that moved their ticket out of "
        f"needs_info (info_received, as the customer): {commits}; the others were logged.",
        "",
    ]
    args.out.write_text("\n".join(lines), encoding="utf-8")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
