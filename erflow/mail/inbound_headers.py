"""The headers of an inbound email read without ever raising: each value decoded (RFC 2047) and kept to
one line, addresses and Message-IDs picked out, and the message told apart as a person's message, an
automatic reply or a bounce."""

from __future__ import annotations

import codecs
import email.errors
import email.header
import email.message
import email.policy
import email.utils
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone

from erflow.mail.inbound_text import no_surrogates, one_line

# What the standard library raises from a header it cannot make sense of.
HEADER_ERRORS = (
    email.errors.MessageError,
    ValueError,
    LookupError,
    UnicodeError,
    AttributeError,
    IndexError,
    TypeError,
    AssertionError,
    RecursionError,
)
_WORD_CHARSET = re.compile(r"=\?([^?\s*]{1,40})(?:\*[^?\s]*)?\?[bBqQ]\?")
_MESSAGE_ID = re.compile(r"<[^<>\s]{1,996}>")
_ENCODED_WORDS = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=(?:\s+=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=)*")
_ADDR_SPEC = re.compile(r"^[^\s<>()\[\],;:\\\"@]+@[^\s<>()\[\],;:\\\"@]+$")
_QUOTED_LOCAL = re.compile(r'^"[^"\\\r\n]*"@[^\s<>()\[\],;:\\\"@]+$')
MAX_IDS = 100  # ids kept from one In-Reply-To or References header (the newest)
# The standard library's header parser takes time and memory quadratic in a header's length (a 4 MB
# Subject of encoded words needs over 20 GB), so a header is cut before it is parsed: the thread
# headers keep their newest end, every other header its start. And only so many headers are read.
MAX_HEADER_CHARS = 4096
MAX_THREAD_HEADER_CHARS = 16384
THREAD_HEADERS = frozenset({"references", "in-reply-to"})
MAX_HEADERS = 1000
MAX_ADDRESS_HEADERS = 10  # occurrences of one recipient header read
DECODED_HEADERS = frozenset({"subject"})
AUTO_PRECEDENCE = frozenset({"bulk", "junk", "list", "auto_reply"})


class BoundedPolicy(email.policy.EmailPolicy):
    """``email.policy.default`` with every header value cut to a length its parser can handle."""

    def header_source_parse(self, sourcelines: list[str]) -> tuple[str, str]:
        name, value = super().header_source_parse(sourcelines)
        if name.strip().lower() in THREAD_HEADERS:
            if len(value) > MAX_THREAD_HEADER_CHARS:
                value = value[-MAX_THREAD_HEADER_CHARS:]
        elif len(value) > MAX_HEADER_CHARS:
            value = value[:MAX_HEADER_CHARS]
        return name, value


POLICY = BoundedPolicy()


@dataclass
class Headers:
    """Every header of a message by lower-cased name: the raw (undecoded, unfolded) one-line values in
    order, the decoded one-line value of the first of each of DECODED_HEADERS, and what was repaired
    while reading them."""

    decoded: dict[str, list[str]] = field(default_factory=dict)
    raw: dict[str, list[str]] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def first(self, name: str) -> str:
        values = self.decoded.get(name.lower())
        return values[0] if values else ""

    def note(self, problem: str) -> None:
        if problem not in self.problems:
            self.problems.append(problem)

    def first_raw(self, name: str) -> str:
        values = self.raw.get(name.lower())
        return values[0] if values else ""


def _decode_fallback(raw: str) -> str:
    try:
        parts = email.header.decode_header(raw)
        return "".join(
            p.decode(c or "latin-1", errors="replace") if isinstance(p, bytes) else p for p, c in parts
        )
    except HEADER_ERRORS:
        return raw


def _unknown_charsets(raw: str) -> list[str]:
    unknown: dict[str, None] = {}
    for charset in _WORD_CHARSET.findall(raw):
        try:
            codecs.lookup(charset)
        except LookupError:
            unknown.setdefault(charset.lower(), None)
    return list(unknown)


def read_headers(message: email.message.Message) -> Headers:
    """The first MAX_HEADERS headers of ``message`` (its top level); those in DECODED_HEADERS also
    decoded with its policy where it can, else with the older decoder, else raw. A header's defect is
    noted in ``problems`` and never raised."""
    headers = Headers()
    try:
        items = list(message.raw_items())
    except HEADER_ERRORS:
        items = []
    if len(items) > MAX_HEADERS:
        headers.problems.append(f"{len(items):,} header lines, only the first {MAX_HEADERS:,} read")
        items = items[:MAX_HEADERS]
    for name, raw in items:
        key = one_line(no_surrogates(str(name))[0]).lower()
        raw_text, raw_repaired = no_surrogates(str(raw))
        if len(raw_text) >= (MAX_THREAD_HEADER_CHARS if key in THREAD_HEADERS else MAX_HEADER_CHARS):
            headers.note(f"the {key[:40]} header is too long, cut to {len(raw_text):,} characters")
        headers.raw.setdefault(key, []).append(one_line(raw_text))
        for charset in _unknown_charsets(raw_text):
            headers.note(f"unknown charset {charset!r} in the {key[:40]} header, read as ASCII")
        if key not in DECODED_HEADERS or key in headers.decoded:
            if raw_repaired:
                headers.note(f"undecodable bytes in the {key[:40]} header, read as latin-1")
            continue
        try:
            parsed = message.policy.header_fetch_parse(name, raw)
            value = str(parsed)
        except HEADER_ERRORS:
            value = _decode_fallback(raw_text)
        value, repaired = no_surrogates(value)
        if repaired or raw_repaired:
            headers.note(f"undecodable bytes in the {key[:40]} header, read as latin-1")
        headers.decoded.setdefault(key, []).append(one_line(value))
    return headers


def message_ids(value: str) -> tuple[str, ...]:
    """Every '<id>' in a header value, in order, duplicates dropped (the last MAX_IDS)."""
    seen: dict[str, None] = {}
    for found in _MESSAGE_ID.findall(value):
        seen.setdefault(found, None)
    return tuple(seen)[-MAX_IDS:]


def message_id(value: str) -> str | None:
    """The Message-ID of a header value: its '<id>', else the stripped value itself; None when blank."""
    found = _MESSAGE_ID.search(value)
    if found:
        return found.group()
    value = value.strip()
    return value[:998] or None


def clean_address(value: str) -> str:
    """``value`` as an addr-spec with its domain lower-cased, or '' when it is not one."""
    value = one_line(value)
    if not (_ADDR_SPEC.match(value) or _QUOTED_LOCAL.match(value)):
        return ""
    local, _, domain = value.rpartition("@")
    return f"{local}@{domain.lower()}"


def _quote_encoded(match: re.Match[str]) -> str:
    text = one_line(no_surrogates(_decode_fallback(match.group()))[0])
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _mailboxes(value: str) -> list[tuple[str, str]]:
    try:
        header = email.policy.default.header_factory("to", value)
        return [(a.display_name, a.addr_spec) for a in getattr(header, "addresses", ())]
    except HEADER_ERRORS:
        pass
    # The policy refuses a decoded line break in a name: decode the encoded words first, quoted, so
    # that nothing in them (':' '@' ',') is read as address syntax.
    try:
        return email.utils.getaddresses([_ENCODED_WORDS.sub(_quote_encoded, value)])
    except HEADER_ERRORS:
        return []


def addresses(values: Sequence[str]) -> list[tuple[str, str]]:
    """(display name, addr-spec) of every mailbox in the raw header ``values``; unparseable
    mailboxes are left out."""
    found: list[tuple[str, str]] = []
    for value in values:
        for name, addr in _mailboxes(value):
            spec = clean_address(addr)
            if spec:
                found.append((one_line(no_surrogates(name)[0]), spec))
    return found


def sender(headers: Headers) -> tuple[str, str]:
    """(addr-spec, display name) of From; ('', name or '') when none parses."""
    value = headers.first_raw("from")
    found = addresses([value]) if value else []
    if found:
        return found[0][1], found[0][0]
    return "", ""


def recipients(headers: Headers) -> tuple[str, ...]:
    """The addr-specs of To, Cc, Delivered-To and X-Original-To, each once (case-insensitive); of each
    of these headers the first MAX_ADDRESS_HEADERS occurrences are read."""
    names = ("to", "cc", "delivered-to", "x-original-to")
    values = [v for name in names for v in headers.raw.get(name, [])[:MAX_ADDRESS_HEADERS]]
    seen: dict[str, str] = {}
    for _, spec in addresses(values):
        seen.setdefault(spec.lower(), spec)
    return tuple(seen.values())


def date(headers: Headers) -> datetime | None:
    value = headers.first_raw("date")
    if not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (*HEADER_ERRORS, OverflowError):
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)


def _tokens(value: str) -> list[str]:
    return [t for t in re.split(r"[\s,;]+", value.lower()) if t]


def is_auto(headers: Mapping[str, Sequence[str]]) -> bool:
    """Whether the headers (lower-cased names, raw values) mark a message sent by a machine for a
    person: Auto-Submitted other than 'no', Precedence bulk/junk/list, X-Autoreply / X-Autorespond,
    X-Auto-Response-Suppress All or OOF, or list mail (List-Id / List-Unsubscribe). A subject such as
    'Out of Office' alone is not enough."""

    def first(name: str) -> str:
        values = headers.get(name, ())
        return values[0] if values else ""

    auto_submitted = _tokens(first("auto-submitted"))
    if auto_submitted and auto_submitted[0] != "no":
        return True
    if set(_tokens(first("precedence"))) & AUTO_PRECEDENCE:
        return True
    if any(headers.get(name) for name in ("x-autoreply", "x-autorespond", "list-id", "list-unsubscribe")):
        return True
    return bool({"all", "oof"} & set(_tokens(first("x-auto-response-suppress"))))


def is_bounce(headers: Mapping[str, Sequence[str]], content_type: str, report_type: str) -> bool:
    """Whether this is a delivery status notification: multipart/report with report-type
    delivery-status, or from mailer-daemon@ / postmaster@ with an empty Return-Path <>."""
    if content_type == "multipart/report" and report_type.strip().lower() == "delivery-status":
        return True
    found = addresses(list(headers.get("from", ())))
    local = found[0][1].rpartition("@")[0].lower() if found else ""
    return_path = [v.strip() for v in headers.get("return-path", ())]
    return local in {"mailer-daemon", "postmaster"} and bool(return_path) and return_path[0] == "<>"
