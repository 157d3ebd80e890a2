"""One inbound customer email read into a clean, typed value, or refused with a one-line reason.

``parse`` never raises anything but ``Unreadable``, whatever the bytes: every header access is guarded,
an unknown or wrong charset is read as latin-1 and noted in ``problems``, and every header value in the
result is one line (nothing in it can start a new header line when erflow later quotes it).
Nothing here knows about tickets or the store.
"""

from __future__ import annotations

import email
import email.message
import email.parser
import email.policy
import hashlib
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime

from erflow.core.errors import Unreadable
from erflow.mail import inbound_headers as hdr
from erflow.mail.inbound_headers import HEADER_ERRORS, is_auto, is_bounce
from erflow.mail.inbound_names import safe_filename
from erflow.mail.inbound_text import body_text, decode, html_to_text, one_line, reply_of

__all__ = ["Attachment", "Inbound", "Unreadable", "is_auto", "message_key", "parse", "safe_filename"]

Message = email.message.Message
_MIME_TYPE = re.compile(r"^[a-z0-9][a-z0-9!#$&^_.+-]{0,63}/[a-z0-9][a-z0-9!#$&^_.+-]{0,63}$")


@dataclass(frozen=True)
class Attachment:
    """A file sent with the message: its sanitised name (unique in the message), type and bytes."""

    name: str
    content_type: str
    data: bytes


@dataclass(frozen=True)
class Inbound:
    """A parsed inbound email. Header values are decoded and one line each; ``text`` is the whole body
    as plain text, ``reply`` the newest reply in it (no quoted history, no signature); ``kind`` is
    'message', 'auto-reply' or 'bounce'; ``bounced_ids`` the Message-IDs a bounce reports on;
    ``problems`` what was repaired while reading."""

    message_id: str | None
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: str
    sender_name: str
    recipients: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str
    reply: str
    attachments: tuple[Attachment, ...]
    kind: str
    bounced_ids: tuple[str, ...]
    problems: tuple[str, ...]


def message_key(data: bytes, message_id: str | None) -> str:
    """A stable 20-hex-digit key: sha256 of the Message-ID as given (brackets included) when there is
    one, else of the bytes. The same Message-ID twice gives the same key."""
    source = message_id.encode("utf-8", "surrogatepass") if message_id else data
    return hashlib.sha256(source).hexdigest()[:20]


def _guard(default: str, call: Callable[[], object]) -> str:
    try:
        value = call()
    except HEADER_ERRORS:
        return default
    return value if isinstance(value, str) else default


def _content_type(part: Message, default: str = "text/plain") -> str:
    """The part's type ('text/plain'), ``default`` when it is missing or not a type/subtype token."""
    value = _guard(default, part.get_content_type).lower()
    return value if _MIME_TYPE.match(value) else default


def _children(part: Message) -> list[Message]:
    try:
        payload = part.get_payload() if part.is_multipart() else None
    except HEADER_ERRORS:
        return []
    return [p for p in payload if isinstance(p, Message)] if isinstance(payload, list) else []


def _shape(root: Message) -> tuple[int, int]:
    """(number of parts below the root, deepest nesting), walked without recursion."""
    parts, deepest = 0, 0
    stack = [(root, 0)]
    while stack:
        part, depth = stack.pop()
        deepest = max(deepest, depth)
        for child in _children(part):
            parts += 1
            stack.append((child, depth + 1))
    return parts, deepest


def _leaves(root: Message) -> Iterator[Message]:
    """The parts that hold content, in order; a message/* part is one leaf (not entered)."""
    stack = [root]
    while stack:
        part = stack.pop()
        ctype = _content_type(part)
        if part.is_multipart() and not ctype.startswith("message/"):
            stack.extend(reversed(_children(part)))
        else:
            yield part


def _payload(part: Message) -> bytes:
    try:
        if part.is_multipart():
            inner = _children(part)
            return inner[0].as_bytes(policy=email.policy.compat32) if inner else b""
        data = part.get_payload(decode=True)
    except (*HEADER_ERRORS, OverflowError):
        return b""
    return data if isinstance(data, bytes) else b""


def _filename(part: Message) -> str | None:
    name = _guard("", part.get_filename)
    if not name:
        name = _guard("", lambda: part.get_param("name"))
    return name or None


@dataclass
class _Body:
    plain: list[str] = field(default_factory=list)
    html: list[str] = field(default_factory=list)
    attachments: list[Attachment] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _read_body(root: Message) -> _Body:
    body = _Body()
    taken: set[str] = set()
    for number, part in enumerate(_leaves(root), start=1):
        ctype = _content_type(part, "application/octet-stream")
        disposition = _guard("", part.get_content_disposition)
        filename = _filename(part)
        if ctype == "message/delivery-status":
            continue
        if ctype.startswith("multipart/"):  # one without a boundary: its body read as text
            ctype = "text/plain"
        inline_text = ctype in ("text/plain", "text/html") and disposition != "attachment" and not filename
        data = _payload(part)
        if not inline_text:
            name = safe_filename(filename, taken, content_type=ctype)
            taken.add(name)
            body.attachments.append(Attachment(name, ctype, data))
            continue
        text, problem = decode(data, _guard("", part.get_content_charset), f"part {number}")
        if problem:
            body.problems.append(problem)
        (body.plain if ctype == "text/plain" else body.html).append(text)
    return body


def _text(body: _Body) -> str:
    plain = [body_text(t).strip("\n") for t in body.plain]
    if any(p.strip() for p in plain):
        return "\n\n".join(p for p in plain if p.strip())
    return "\n\n".join(t for t in (html_to_text(h) for h in body.html) if t.strip())


def _original_id(part: Message) -> str | None:
    ctype = _content_type(part, "")
    if ctype.startswith("message/") and ctype != "message/delivery-status":
        inner = _children(part)
        if inner:
            return hdr.message_id(one_line(_guard("", lambda: str(inner[0].get("message-id", "")))))
    if ctype in ("text/rfc822-headers", "message/rfc822-headers"):
        text, _ = decode(_payload(part), _guard("", part.get_content_charset), "the bounced headers")
        try:
            headers = email.parser.HeaderParser(policy=email.policy.compat32).parsestr(text)
            return hdr.message_id(one_line(str(headers.get("message-id", ""))))
        except HEADER_ERRORS:
            return None
    return None


def _bounced_ids(root: Message, headers: hdr.Headers) -> tuple[str, ...]:
    found: dict[str, None] = {}
    stack = [root]
    while stack:
        part = stack.pop()
        original = _original_id(part)
        if original:
            found.setdefault(original, None)
        elif part.is_multipart() and not _content_type(part, "").startswith("message/"):
            stack.extend(reversed(_children(part)))
    if found:
        return tuple(found)
    ids = (
        *hdr.message_ids(headers.first_raw("in-reply-to")),
        *hdr.message_ids(headers.first_raw("references")),
    )
    return tuple(dict.fromkeys(ids))


def _load(data: bytes, max_bytes: int, max_parts: int, max_depth: int) -> Message:
    if not data.strip():
        raise Unreadable("message is empty")
    if len(data) > max_bytes:
        raise Unreadable(f"message is {len(data):,} bytes, over the limit of {max_bytes:,}")
    try:
        root = email.message_from_bytes(data, policy=hdr.POLICY)
    except RecursionError:
        raise Unreadable(f"MIME parts nested deeper than the limit of {max_depth}") from None
    except HEADER_ERRORS as exc:
        raise Unreadable(f"not an email: {one_line(str(exc))[:200]}") from None
    parts, depth = _shape(root)
    if depth > max_depth:
        raise Unreadable(f"MIME parts nested {depth} deep, over the limit of {max_depth}")
    if parts > max_parts:
        raise Unreadable(f"message has {parts:,} MIME parts, over the limit of {max_parts:,}")
    return root


def parse(
    data: bytes, *, max_bytes: int = 10 * 1024 * 1024, max_parts: int = 200, max_depth: int = 20
) -> Inbound:
    """Read one raw email (RFC 5322 bytes). Raises Unreadable, with a one-line reason, for nothing at
    all, something that is not an email (no From and no Message-ID), more than ``max_bytes`` bytes,
    more than ``max_parts`` MIME parts or MIME nested deeper than ``max_depth``."""
    root = _load(data, max_bytes, max_parts, max_depth)
    headers = hdr.read_headers(root)
    message_id = hdr.message_id(headers.first_raw("message-id"))
    if message_id is None and not headers.first_raw("from"):
        raise Unreadable("not an email: no From and no Message-ID header")
    address, name = hdr.sender(headers)
    body = _read_body(root)
    text = _text(body)
    ctype = _content_type(root)
    report_type = _guard("", lambda: root.get_param("report-type"))
    kind = "message"
    if is_bounce(headers.raw, ctype, report_type):
        kind = "bounce"
    elif is_auto(headers.raw) or (ctype == "multipart/report" and report_type):
        kind = "auto-reply"
    return Inbound(
        message_id=message_id,
        in_reply_to=hdr.message_ids(headers.first_raw("in-reply-to")),
        references=hdr.message_ids(" ".join(headers.raw.get("references", []))),
        sender=address,
        sender_name=name,
        recipients=hdr.recipients(headers),
        subject=headers.first("subject"),
        date=hdr.date(headers),
        text=text,
        reply=reply_of(text),
        attachments=tuple(body.attachments),
        kind=kind,
        bounced_ids=_bounced_ids(root, headers) if kind == "bounce" else (),
        problems=(*headers.problems, *body.problems),
    )
