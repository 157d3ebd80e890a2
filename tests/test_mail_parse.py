"""Inbound email parsing held to a corpus of real-world shapes (tests/data/mail) and to arbitrary bytes:
a clean Inbound or an Unreadable with a reason, never anything else."""

from __future__ import annotations

import hashlib
import importlib.util
import re
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from erflow.core.errors import InvalidData
from erflow.mail.inbound import Inbound, Unreadable, is_auto, message_key, parse, safe_filename
from erflow.mail.inbound_text import html_to_text, reply_of

CORPUS = Path(__file__).parent / "data" / "mail"
ORIGINAL = "<20261201100000.ER-12@erflow.example>"
HEADER_BREAK = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def read(name: str) -> Inbound:
    return parse((CORPUS / name).read_bytes())


def one_line_fields(message: Inbound) -> list[str]:
    return [
        message.subject,
        message.sender,
        message.sender_name,
        message.message_id or "",
        *message.in_reply_to,
        *message.references,
        *message.recipients,
        *message.bounced_ids,
        *message.problems,
        *(a.name for a in message.attachments),
        *(a.content_type for a in message.attachments),
    ]


def test_the_corpus_is_what_make_py_writes() -> None:
    spec = importlib.util.spec_from_file_location("make_mail_corpus", CORPUS / "make.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    made = module.corpus()
    assert sorted(made) == sorted(p.name for p in CORPUS.glob("*.eml"))
    for name, data in made.items():
        assert (CORPUS / name).read_bytes() == data, f"{name} differs from make.py's output"


REPLIES = {
    "gmail_reply.eml": "Thanks, the export works now.\nOne more question: can it include the notes?",
    "outlook_reply.eml": "The export still fails with error 42.",
    "apple_reply.eml": "Yes, please go ahead and close it. C’est très bien, merci beaucoup!",
    "german_reply.eml": "Danke, das hat geholfen.",
    "html_only.eml": 'Hello team & friends,\n\nthe page shows <nothing> since "Monday".\nSteps:\nopen it\n'
    "click \u201cSave\u201d",
    "base64_body.eml": "Grüße aus Köln – the invoice is attached.",
    "latin1_body.eml": "Ça coûte 20 francs? Grüße aus Zürich",
    "broken_charset.eml": "Ça coûte 20 francs? Grüße aus Zürich",
    "unknown_charset.eml": "Ça coûte 20 francs? Grüße aus Zürich",
    "encoded_subjects.eml": "Hello.",
    "no_message_id.eml": "A plain line.",
    "hostile_attachments.eml": "Please find the files attached.",
}


@pytest.mark.parametrize("name", sorted(REPLIES))
def test_the_reply_is_the_newest_text_only(name: str) -> None:
    message = read(name)
    assert message.reply == REPLIES[name]
    assert message.kind == "message"
    for line in one_line_fields(message):
        assert not HEADER_BREAK.search(line), line


def test_a_gmail_reply_keeps_its_thread_and_sender() -> None:
    message = read("gmail_reply.eml")
    assert message.message_id == "<msg-1@customer.example>"
    assert message.in_reply_to == (ORIGINAL,)
    assert message.references == ("<20261130080000.ER-12@erflow.example>", ORIGINAL)
    assert (message.sender, message.sender_name) == ("anna@customer.example", "Anna Example")
    assert message.recipients == ("desk@erflow.example",)
    assert message.subject == "Re: [ER-12] Export fails"
    assert message.date == datetime(2026, 12, 2, 9, 15, tzinfo=timezone(timedelta(hours=1)))
    assert "> Please try the export again." in message.text  # text/plain preferred, history kept
    assert "Best regards" in message.text and "Best regards" not in message.reply
    assert message.attachments == () and message.problems == ()


def test_an_outlook_reply_has_a_quoted_name_and_a_lower_case_domain() -> None:
    message = read("outlook_reply.eml")
    assert (message.sender, message.sender_name) == ("Bob.Miller@contoso.example", "Miller, Bob")
    assert "Sent: Monday" in message.text and "Sent:" not in message.reply


def test_names_in_raw_utf8_and_rfc2047_are_decoded() -> None:
    assert read("apple_reply.eml").sender_name == "Chloé Martin"
    assert read("german_reply.eml").sender_name == "Jörg Schmidt"
    message = read("encoded_subjects.eml")
    assert message.subject == "Résumé \U0001f636 und Grüße aus München"
    assert (message.sender, message.sender_name) == ("francois@customer.example", "François Lévy")


def test_an_encoded_line_break_never_becomes_a_header_break() -> None:
    message = read("subject_newline.eml")
    assert message.subject == "Hello Bcc: victim@evil.example X-Injected: 1"
    assert message.sender == "eve@customer.example"
    assert message.sender_name == "Eve Reply-To: eve@evil.example"


def test_html_only_drops_scripts_styles_and_titles() -> None:
    text = read("html_only.eml").text
    assert "alert" not in text and "steal" not in text and "color" not in text and "ignored" not in text
    assert text.endswith("Best regards,\nAnna")


def test_charset_repairs_are_named() -> None:
    assert read("latin1_body.eml").problems == ()
    assert read("broken_charset.eml").problems == ("undecodable charset 'utf-8' in part 1, read as latin-1",)
    assert read("unknown_charset.eml").problems == ("unknown charset 'x-unknown' in part 1, read as latin-1",)


def test_hostile_attachment_names_are_made_safe() -> None:
    message = read("hostile_attachments.eml")
    assert [a.name for a in message.attachments] == [
        "passwd",
        "evil.exe",
        "bashrc",
        "x" * 96 + ".pdf",
        "Rechnung März.pdf",
        "a.txt",
        "a-2.txt",
        "Vertrag über.docx",
        "attachment.png",
        "_CON.txt",
    ]
    assert message.attachments[0].data == b"root:x:0:0\n"
    assert message.attachments[6].data == b"second a\n"
    assert message.attachments[4].content_type == "application/pdf"


@pytest.mark.parametrize(
    ("name", "kind"),
    [
        ("auto_reply.eml", "auto-reply"),
        ("outlook_oof.eml", "auto-reply"),
        ("list_mail.eml", "auto-reply"),
        ("out_of_office_by_hand.eml", "message"),
        ("gmail_reply.eml", "message"),
    ],
)
def test_automatic_replies_are_told_apart(name: str, kind: str) -> None:
    message = read(name)
    assert message.kind == kind
    assert message.bounced_ids == ()


@pytest.mark.parametrize(
    ("name", "ids", "sender"),
    [
        ("bounce_dsn.eml", (ORIGINAL,), "MAILER-DAEMON@mx.erflow.example"),
        (
            "bounce_headers_only.eml",
            ("<20261201110000.ER-13@erflow.example>",),
            "postmaster@mx.customer.example",
        ),
        (
            "bounce_mailer_daemon.eml",
            ("<20261201120000.ER-14@erflow.example>",),
            "MAILER-DAEMON@old-mx.customer.example",
        ),
    ],
)
def test_a_bounce_names_the_message_it_reports_on(name: str, ids: tuple[str, ...], sender: str) -> None:
    message = read(name)
    assert (message.kind, message.bounced_ids, message.sender) == ("bounce", ids, sender)


def test_a_dsn_keeps_its_human_part_as_text_and_the_original_as_a_file() -> None:
    message = read("bounce_dsn.eml")
    assert message.reply.startswith("I'm sorry to have to inform you")
    assert "Please try the export again" not in message.text
    assert [(a.name, a.content_type) for a in message.attachments] == [("attachment.eml", "message/rfc822")]
    assert ORIGINAL.encode() in message.attachments[0].data


def test_auto_detection_needs_a_header_not_a_subject() -> None:
    assert not is_auto({"subject": ["Automatic reply: away"]})
    assert not is_auto({"auto-submitted": ["no"]})
    assert is_auto({"auto-submitted": ["auto-generated"]})
    assert is_auto({"precedence": ["bulk"]})
    assert is_auto({"x-autoreply": ["yes"]})
    assert is_auto({"x-auto-response-suppress": ["DR, OOF"]})
    assert not is_auto({"x-auto-response-suppress": ["DR, RN"]})


def test_a_message_without_message_id_is_keyed_by_its_bytes() -> None:
    data = (CORPUS / "no_message_id.eml").read_bytes()
    message = parse(data)
    assert message.message_id is None
    assert message_key(data, None) == hashlib.sha256(data).hexdigest()[:20]
    assert message_key(data, None) != message_key(data + b"\n", None)


def test_the_same_message_id_gives_the_same_key() -> None:
    key = message_key(b"one", "<a@b>")
    assert key == message_key(b"two", "<a@b>") == hashlib.sha256(b"<a@b>").hexdigest()[:20]
    assert re.fullmatch(r"[0-9a-f]{20}", key)


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"", "message is empty"),
        (b" \r\n\r\n", "message is empty"),
        ((CORPUS / "garbage.eml").read_bytes(), "not an email: no From and no Message-ID header"),
        (b"Subject: hello\r\n\r\nbody\r\n", "not an email: no From and no Message-ID header"),
        ((CORPUS / "nested_50.eml").read_bytes(), "MIME parts nested 50 deep, over the limit of 20"),
        ((CORPUS / "parts_1000.eml").read_bytes(), "message has 1,000 MIME parts, over the limit of 200"),
    ],
)
def test_what_is_not_a_readable_email_is_refused_with_a_reason(data: bytes, reason: str) -> None:
    with pytest.raises(Unreadable) as caught:
        parse(data)
    assert caught.value.message == reason
    assert isinstance(caught.value, InvalidData)


def test_the_limits_can_be_raised() -> None:
    assert parse((CORPUS / "nested_50.eml").read_bytes(), max_depth=60).reply == "deep inside"
    assert parse((CORPUS / "parts_1000.eml").read_bytes(), max_parts=1000).text.startswith("part 0\n\npart 1")


def test_a_message_deeper_than_the_parser_can_go_is_refused() -> None:
    head = b"From: a@b.example\r\nContent-Type: multipart/mixed; boundary=b0\r\n\r\n"
    parts = b"".join(
        b"--b%d\r\nContent-Type: multipart/mixed; boundary=b%d\r\n\r\n" % (i, i + 1) for i in range(5000)
    )
    with pytest.raises(Unreadable, match="nested"):
        parse(head + parts)


def test_twenty_megabytes_is_over_the_limit() -> None:
    data = b"From: a@b.example\r\nSubject: big\r\n\r\n" + b"x" * (20 * 1024 * 1024)
    with pytest.raises(Unreadable) as caught:
        parse(data)
    assert caught.value.message == f"message is {len(data):,} bytes, over the limit of 10,485,760"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            b"From: a@b.example\r\nSubject: " + b"=?utf-8?q?a?= " * 300_000 + b"\r\n\r\nhi",
            "the subject header is too long, cut to 4,096 characters",
        ),
        (
            b"From: a@b.example\r\nTo: " + b"x@y.example, " * 500_000 + b"\r\n\r\nhi",
            "the to header is too long, cut to 4,096 characters",
        ),
        (
            b"From: a@b.example\r\nReferences: " + b"<a@b> " * 500_000 + b"\r\n\r\nhi",
            "the references header is too long, cut to 16,384 characters",
        ),
        (
            b"From: a@b.example\r\n" + (b"To: " + b"x@y.example, " * 600 + b"\r\n") * 1000 + b"\r\nhi",
            "1,001 header lines, only the first 1,000 read",
        ),
    ],
)
def test_huge_headers_are_cut_before_the_parser_sees_them(data: bytes, problem: str) -> None:
    """The standard library's header parser is quadratic: uncut, the Subject here needs over 20 GB and
    the To over a minute."""
    started = time.monotonic()
    message = parse(data)
    assert time.monotonic() - started < 5
    assert problem in message.problems
    assert len(message.subject) <= 4096
    assert all(len(field) <= 16384 for field in one_line_fields(message))


def test_html_blockquotes_read_as_quoted() -> None:
    html = (
        '<div dir="ltr">Fine.<br><br>Best regards,<br>Anna</div><div class="gmail_quote">'
        "On Mon, Dec 1, 2026 at 10:00 AM Desk &lt;desk@erflow.example&gt; wrote:<br>"
        "<blockquote>Earlier<p>text</p></blockquote></div>"
    )
    text = html_to_text(html)
    assert text.endswith("wrote:\n> Earlier\n>\n> text")
    assert reply_of(text) == "Fine."


def test_signatures_and_french_headers_are_cut() -> None:
    assert reply_of("Thanks.\n\n-- \nAnna Example\nACME Corp\n") == "Thanks."
    assert (
        reply_of(
            "Merci.\n\nLe lun. 1 d\u00e9c. 2026 \u00e0 10:00, Desk <d@e.example> a \u00e9crit :\n> Bonjour\n"
        )
        == "Merci."
    )


def test_an_unknown_charset_in_a_header_is_named() -> None:
    message = parse(b"From: a@b.example\r\nSubject: =?x-foo?q?abc?= =?utf-8?q?d=0Ae?=\r\n\r\nhi\r\n")
    assert message.subject == "abcd e"
    assert message.problems == ("unknown charset 'x-foo' in the subject header, read as ASCII",)


def test_a_reply_of_only_quotes_falls_back_to_the_text() -> None:
    assert reply_of("  \n") == ""
    assert reply_of("> only quoted\n") == "> only quoted"


# --- properties ------------------------------------------------------------------------------------

SAMPLES = [(CORPUS / n).read_bytes() for n in sorted(REPLIES) + ["bounce_dsn.eml", "outlook_oof.eml"]]


def check_parse(data: bytes) -> None:
    try:
        message = parse(data, max_bytes=200_000)
    except Unreadable as refused:
        assert refused.message and "\n" not in refused.message
        return
    for line in one_line_fields(message):
        assert not HEADER_BREAK.search(line), line
    assert message.kind in ("message", "auto-reply", "bounce")
    assert all(a.name and "/" not in a.name and "\\" not in a.name for a in message.attachments)
    assert message.date is None or message.date.tzinfo is not None


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.binary(max_size=2000))
def test_arbitrary_bytes_parse_or_are_refused(data: bytes) -> None:
    check_parse(data)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.sampled_from(SAMPLES),
    st.lists(st.tuples(st.integers(0, 10_000), st.integers(0, 8), st.binary(max_size=12)), max_size=6),
)
def test_mutated_corpus_messages_parse_or_are_refused(
    sample: bytes, edits: list[tuple[int, int, bytes]]
) -> None:
    data = bytearray(sample)
    for at, cut, insert in edits:
        at %= len(data) + 1
        data[at : at + cut] = insert
    check_parse(bytes(data))


HEADER_PIECES = st.sampled_from(
    [
        b"From: ",
        b"Subject: ",
        b"Message-ID: <",
        b">",
        b"=?utf-8?q?",
        b"=0A",
        b"?=",
        b"=?x-foo?b?",
        b"\r\n",
        b"\r\n\r\n",
        b"Content-Type: multipart/mixed; boundary=b",
        b"--b",
        b"text/html; charset=",
        b"<p>",
        b"\xff",
        b"Content-Disposition: attachment; filename*=utf-8''%FF",
        b"Date: ",
        b"Mon, 99 Foo 99999 99:99 +9999",
        b"Auto-Submitted: ",
        b"multipart/report; report-type=delivery-status",
        b"message/rfc822",
        b"\x00",
        b"a@b",
    ]
)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.one_of(HEADER_PIECES, st.binary(max_size=5)), max_size=40))
def test_header_shaped_noise_parses_or_is_refused(pieces: list[bytes]) -> None:
    check_parse(b"From: a@b.example\r\n" + b"".join(pieces))


NAMES = st.one_of(
    st.none(),
    st.text(max_size=300),
    st.lists(
        st.sampled_from(
            [
                "..",
                ".",
                "/",
                "\\",
                "C:",
                "CON",
                "nul",
                " ",
                "a",
                ".txt",
                "=?utf-8?q?",
                "?=",
                "\x00",
                "\u202e",
                "é",
                "x" * 60,
            ]
        ),
        max_size=12,
    ).map("".join),
)


@settings(max_examples=200, deadline=None)
@given(NAMES, st.sets(st.text(max_size=20), max_size=5))
def test_safe_filename_properties(name: str | None, taken: set[str]) -> None:
    safe = safe_filename(name, taken)
    assert safe and len(safe) <= 100
    assert "/" not in safe and "\\" not in safe and ".." not in safe and "\x00" not in safe
    assert not safe.startswith(".") and not safe.endswith((".", " "))
    assert not re.match(r"^[A-Za-z]:", safe)
    assert not HEADER_BREAK.search(safe)
    assert safe.split(".")[0].lower() not in {"con", "prn", "aux", "nul", "com1", "lpt1"}
    assert safe.casefold() not in {t.casefold() for t in taken}
    assert safe_filename(safe, set()) == safe  # already safe: kept as it is


def test_safe_filename_examples() -> None:
    assert safe_filename("../../etc/passwd", set()) == "passwd"
    assert safe_filename("C:\\evil.exe", set()) == "evil.exe"
    assert safe_filename(".bashrc", set()) == "bashrc"
    assert safe_filename("a.txt", {"a.txt", "A-2.TXT"}) == "a-3.txt"
    assert safe_filename(None, set(), content_type="application/pdf") == "attachment.pdf"
    assert safe_filename("..", {"attachment"}) == "attachment-2"
    assert safe_filename("utf-8''na%C3%AFve.txt", set()) == "naïve.txt"
    assert safe_filename("=?iso-8859-1?q?r=E9sum=E9.pdf?=", set()) == "résumé.pdf"
    long = safe_filename("y" * 300 + ".tar", {"y" * 96 + ".tar"})
    assert long == "y" * 94 + "-2.tar"
