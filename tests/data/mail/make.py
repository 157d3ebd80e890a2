"""Writes the inbound-email corpus next to this file, deterministically: `python tests/data/mail/make.py`.

Each message is written out as the bytes a mail client or server would send (CRLF line ends); the
README beside it says what each one exercises. The 20 MB message is made by the tests, never here.
"""

from __future__ import annotations

import base64
import quopri
import random
from pathlib import Path

HERE = Path(__file__).parent
DESK = "Desk <desk@erflow.example>"
ORIGINAL = "<20261201100000.ER-12@erflow.example>"


def crlf(text: str) -> bytes:
    return text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8")


def head(**fields: str) -> str:
    """Common headers (From, To, Date, Message-ID, MIME-Version), then the given ones."""
    lines = {
        "From": "Anna Example <anna@customer.example>",
        "To": DESK,
        "Date": "Tue, 02 Dec 2026 09:15:00 +0100",
        "Message-ID": "<msg-1@customer.example>",
        "MIME-Version": "1.0",
    }
    for key, value in fields.items():
        name = key.replace("_", "-")
        if value == "":
            lines.pop(name, None)
        else:
            lines[name] = value
    return "".join(f"{k}: {v}\n" for k, v in lines.items())


GMAIL = head(
    Subject="Re: [ER-12] Export fails",
    In_Reply_To=ORIGINAL,
    References=f"<20261130080000.ER-12@erflow.example> {ORIGINAL}",
    Content_Type='multipart/alternative; boundary="000000000000gmail"',
) + (
    "\n--000000000000gmail\n"
    'Content-Type: text/plain; charset="UTF-8"\n\n'
    "Thanks, the export works now.\nOne more question: can it include the notes?\n\n"
    "Best regards,\nAnna\n\n"
    "On Mon, Dec 1, 2026 at 10:00 AM Desk <desk@erflow.example> wrote:\n\n"
    "> Please try the export again.\n>\n> Desk\n\n"
    "--000000000000gmail\n"
    'Content-Type: text/html; charset="UTF-8"\n\n'
    '<div dir="ltr">Thanks, the export works now.<br>One more question: can it include the notes?'
    "<br><br>Best regards,<br>Anna</div><br>"
    '<div class="gmail_quote"><div class="gmail_attr">On Mon, Dec 1, 2026 at 10:00 AM Desk &lt;'
    "desk@erflow.example&gt; wrote:<br></div><blockquote>Please try the export again.</blockquote></div>\n"
    "--000000000000gmail--\n"
)

OUTLOOK = head(
    From='"Miller, Bob" <Bob.Miller@Contoso.EXAMPLE>',
    Subject="RE: [ER-12] Export fails",
    Thread_Topic="[ER-12] Export fails",
    In_Reply_To=ORIGINAL,
    References=ORIGINAL,
    Content_Type='multipart/alternative; boundary="_000_outlook_"',
) + (
    "\n--_000_outlook_\n"
    'Content-Type: text/plain; charset="us-ascii"\nContent-Transfer-Encoding: quoted-printable\n\n'
    "The export still fails with error 42.\n\nKind regards\nBob Miller\n\n"
    "________________________________\n"
    "From: Desk <desk@erflow.example>\nSent: Monday, December 1, 2026 10:00 AM\n"
    "To: Miller, Bob <Bob.Miller@contoso.example>\nSubject: [ER-12] Export fails\n\n"
    "Please try the export again.\n\n"
    "--_000_outlook_\n"
    'Content-Type: text/html; charset="us-ascii"\nContent-Transfer-Encoding: quoted-printable\n\n'
    '<html><head><style>p.MsoNormal {margin:0cm}</style></head><body lang=3D"EN-US">'
    '<div class=3D"WordSection1"><p class=3D"MsoNormal">The export still fails with error 42.</p>'
    '<p class=3D"MsoNormal">Kind regards<br>Bob Miller</p><div id=3D"divRplyFwdMsg"><hr>'
    "<b>From:</b> Desk &lt;desk@erflow.example&gt;<br><b>Sent:</b> Monday, December 1, 2026 10:00 AM"
    "<br><b>Subject:</b> [ER-12] Export fails</div><p>Please try the export again.</p></div></body></html>\n"
    "--_000_outlook_--\n"
)

APPLE_TEXT = (
    "Yes, please go ahead and close it. C’est très bien, merci beaucoup!\n\nSent from my iPhone\n\n"
    "> On 1 Dec 2026, at 10:00, Desk <desk@erflow.example> wrote:\n>\n> Shall we close the request?\n"
)
APPLE = head(
    From="Chloé Martin <chloe@customer.example>",
    Subject="Re: [ER-12] Export fails",
    In_Reply_To=ORIGINAL,
    Content_Type="text/plain; charset=utf-8",
    Content_Transfer_Encoding="quoted-printable",
) + ("\n" + quopri.encodestring(APPLE_TEXT.encode("utf-8")).decode("ascii"))

GERMAN = head(
    From="Jörg Schmidt <joerg@kunde.example>",
    Subject="AW: [ER-12] Export fails",
    In_Reply_To=ORIGINAL,
    Content_Type="text/plain; charset=utf-8",
    Content_Transfer_Encoding="8bit",
) + (
    "\nDanke, das hat geholfen.\n\nMit freundlichen Grüßen\nJörg Schmidt\n\n"
    "Am Mo., 1. Dez. 2026 um 10:00 Uhr schrieb Desk <desk@erflow.example>:\n> Bitte erneut versuchen.\n"
)

HTML_ONLY = head(
    Subject="Website broken",
    Content_Type="text/html; charset=utf-8",
) + (
    "\n<html><head><title>ignored title</title><style>body { color: red }</style>"
    "<script>alert('x'); document.cookie</script></head><body>"
    "<p>Hello&nbsp;team &amp; friends,</p><p>the page shows &lt;nothing&gt; since &quot;Monday&quot;.<br>"
    "Steps:</p><ul><li>open it</li><li>click &#8220;Save&#8221;</li></ul>"
    "<script type='text/javascript'>steal()</script><p>Best regards,<br>Anna</p></body></html>\n"
)

BASE64 = head(
    Subject="Base64 body",
    Content_Type="text/plain; charset=utf-8",
    Content_Transfer_Encoding="base64",
) + ("\n" + base64.encodebytes("Grüße aus Köln – the invoice is attached.\n".encode()).decode("ascii"))


def latin1(body_charset: str, subject: str, message_id: str) -> bytes:
    return crlf(
        head(
            Subject=subject,
            Message_ID=message_id,
            Content_Type=f"text/plain; charset={body_charset}",
            Content_Transfer_Encoding="8bit",
        )
        + "\n"
    ) + "Ça coûte 20 francs? Grüße aus Zürich\r\n".encode("latin-1", "replace")


ENCODED_SUBJECTS = (
    head(
        From="=?utf-8?b?RnJhbsOnb2lzIEzDqXZ5?= <francois@customer.example>",
        Subject="=?utf-8?b?UsOpc3Vtw6kg8J+Ytg==?= und =?iso-8859-1?q?Gr=FC=DFe_aus_M=FCnchen?=",
        Content_Type="text/plain; charset=utf-8",
    )
    + "\nHello.\n"
)

SUBJECT_NEWLINE = (
    head(
        Subject="=?utf-8?q?Hello=0ABcc:_victim@evil.example=0D=0AX-Injected:_1?=",
        From="=?utf-8?q?Eve=0AReply-To:_eve@evil.example?= <eve@customer.example>",
        Content_Type="text/plain; charset=utf-8",
    )
    + "\nNothing to see.\n"
)


def attachments() -> str:
    boundary = "att-boundary"
    parts = ["Please find the files attached.\n"]
    files = [
        ('filename="../../etc/passwd"', "text/plain", "root:x:0:0\n"),
        ('filename="C:\\\\evil.exe"', "application/octet-stream", "MZ"),
        ('filename=".bashrc"', "text/plain", "alias ls=rm\n"),
        (f'filename="{"x" * 296}.pdf"', "application/pdf", "%PDF-1.4\n"),
        ("filename*=utf-8''Rechnung%20M%C3%A4rz.pdf", "application/pdf", "%PDF-1.4\n"),
        ('filename="a.txt"', "text/plain", "first a\n"),
        ('filename="a.txt"', "text/plain", "second a\n"),
        ('filename="=?utf-8?q?Vertrag_=C3=BCber.docx?="', "application/octet-stream", "PK"),
        ("", "image/png", "\x89PNG"),
        ('filename="CON.txt"', "text/plain", "device\n"),
    ]
    out = head(Subject="Files", Content_Type=f'multipart/mixed; boundary="{boundary}"') + "\n"
    out += f"--{boundary}\nContent-Type: text/plain; charset=utf-8\n\n{parts[0]}\n"
    for disposition, ctype, data in files:
        encoded = base64.b64encode(data.encode("latin-1")).decode("ascii")
        params = f"; {disposition}" if disposition else ""
        out += (
            f"--{boundary}\nContent-Type: {ctype}\nContent-Transfer-Encoding: base64\n"
            f"Content-Disposition: attachment{params}\n\n{encoded}\n"
        )
    return out + f"--{boundary}--\n"


AUTO_REPLY = (
    head(
        From="Anna Example <anna@customer.example>",
        Subject="Automatic reply: [ER-12] Export fails",
        Auto_Submitted="auto-replied",
        In_Reply_To=ORIGINAL,
        Content_Type="text/plain; charset=utf-8",
    )
    + "\nI am away until 5 January and will read your message when I am back.\n"
)

OUTLOOK_OOF = (
    head(
        From='"Miller, Bob" <bob.miller@contoso.example>',
        Subject="Automatic reply: [ER-12] Export fails",
        X_Auto_Response_Suppress="All",
        X_MS_Exchange_Inbox_Rules_Loop="bob.miller@contoso.example",
        In_Reply_To=ORIGINAL,
        Content_Type="text/plain; charset=utf-8",
    )
    + "\nI am out of the office until Monday.\n"
)

OUT_OF_OFFICE_BY_HAND = (
    head(
        Subject="Out of Office",
        Content_Type="text/plain; charset=utf-8",
    )
    + "\nI'm out of office next week; please send the contract to my colleague.\n"
)

LIST_MAIL = (
    head(
        From="Newsletter <news@vendor.example>",
        Subject="Our December news",
        List_Id="Vendor news <news.vendor.example>",
        List_Unsubscribe="<mailto:unsubscribe@vendor.example>",
        Content_Type="text/plain; charset=utf-8",
    )
    + "\nNews.\n"
)

DSN = head(
    From="Mail Delivery System <MAILER-DAEMON@mx.erflow.example>",
    To=DESK,
    Subject="Undelivered Mail Returned to Sender",
    Message_ID="<dsn-1@mx.erflow.example>",
    Auto_Submitted="auto-replied",
    Content_Type='multipart/report; report-type=delivery-status; boundary="dsn-b"',
) + (
    "\n--dsn-b\nContent-Description: Notification\nContent-Type: text/plain; charset=us-ascii\n\n"
    "I'm sorry to have to inform you that your message could not\nbe delivered to one or more recipients.\n\n"
    "<nobody@customer.example>: host mx.customer.example said: 550 5.1.1 User unknown\n\n"
    "--dsn-b\nContent-Description: Delivery report\nContent-Type: message/delivery-status\n\n"
    "Reporting-MTA: dns; mx.erflow.example\n\nFinal-Recipient: rfc822; nobody@customer.example\n"
    "Action: failed\nStatus: 5.1.1\n\n"
    "--dsn-b\nContent-Description: Undelivered Message\nContent-Type: message/rfc822\n\n"
    f"From: {DESK}\nTo: nobody@customer.example\nSubject: [ER-12] Export fails\n"
    f"Message-ID: {ORIGINAL}\nDate: Mon, 01 Dec 2026 10:00:00 +0100\n\nPlease try the export again.\n\n"
    "--dsn-b--\n"
)

DSN_HEADERS_ONLY = head(
    From="postmaster@mx.customer.example",
    Subject="Delivery Status Notification (Failure)",
    Message_ID="<dsn-2@mx.customer.example>",
    Content_Type='multipart/report; report-type="delivery-status"; boundary="r2"',
) + (
    "\n--r2\nContent-Type: text/plain\n\nDelivery has failed to these recipients.\n\n"
    "--r2\nContent-Type: message/delivery-status\n\nReporting-MTA: dns;mx.customer.example\n\n"
    "Final-Recipient: rfc822;nobody@customer.example\nAction: failed\nStatus: 5.2.2\n\n"
    "--r2\nContent-Type: text/rfc822-headers\n\n"
    "From: Desk <desk@erflow.example>\nMessage-ID: <20261201110000.ER-13@erflow.example>\n"
    "Subject: [ER-13] Your request\n\n--r2--\n"
)

MAILER_DAEMON = (
    "Return-Path: <>\n"
    + head(
        From="MAILER-DAEMON@old-mx.customer.example",
        Subject="failure notice",
        Message_ID="<bounce-3@old-mx.customer.example>",
        In_Reply_To="<20261201120000.ER-14@erflow.example>",
        Content_Type="text/plain",
    )
    + "\nHi. This is the qmail-send program. I couldn't deliver your message.\n"
)

NO_MESSAGE_ID = head(Message_ID="", Subject="No id here", Content_Type="text/plain") + "\nA plain line.\n"


def nested(depth: int) -> str:
    out = head(Subject=f"Nested {depth}", Content_Type='multipart/mixed; boundary="n0"') + "\n"
    for level in range(depth):
        inner = f'multipart/mixed; boundary="n{level + 1}"' if level + 1 < depth else "text/plain"
        out += f"--n{level}\nContent-Type: {inner}\n\n"
    out += "deep inside\n"
    for level in reversed(range(depth)):
        out += f"--n{level}--\n"
    return out


def many_parts(count: int) -> str:
    out = head(Subject=f"{count} parts", Content_Type='multipart/mixed; boundary="m"') + "\n"
    for number in range(count):
        out += f"--m\nContent-Type: text/plain\n\npart {number}\n"
    return out + "--m--\n"


def corpus() -> dict[str, bytes]:
    return {
        "gmail_reply.eml": crlf(GMAIL),
        "outlook_reply.eml": crlf(OUTLOOK),
        "apple_reply.eml": crlf(APPLE),
        "german_reply.eml": crlf(GERMAN),
        "html_only.eml": crlf(HTML_ONLY),
        "base64_body.eml": crlf(BASE64),
        "latin1_body.eml": latin1("ISO-8859-1", "Latin-1 body", "<latin1@customer.example>"),
        "broken_charset.eml": latin1("utf-8", "Declared UTF-8, is latin-1", "<broken@customer.example>"),
        "unknown_charset.eml": latin1("x-unknown", "Unknown charset", "<unknown@customer.example>"),
        "encoded_subjects.eml": crlf(ENCODED_SUBJECTS),
        "subject_newline.eml": crlf(SUBJECT_NEWLINE),
        "hostile_attachments.eml": crlf(attachments()),
        "auto_reply.eml": crlf(AUTO_REPLY),
        "outlook_oof.eml": crlf(OUTLOOK_OOF),
        "out_of_office_by_hand.eml": crlf(OUT_OF_OFFICE_BY_HAND),
        "list_mail.eml": crlf(LIST_MAIL),
        "bounce_dsn.eml": crlf(DSN),
        "bounce_headers_only.eml": crlf(DSN_HEADERS_ONLY),
        "bounce_mailer_daemon.eml": crlf(MAILER_DAEMON),
        "no_message_id.eml": crlf(NO_MESSAGE_ID),
        "garbage.eml": random.Random(20261201).randbytes(4096),
        "nested_50.eml": crlf(nested(50)),
        "parts_1000.eml": crlf(many_parts(1000)),
    }


if __name__ == "__main__":
    for name, data in corpus().items():
        (HERE / name).write_bytes(data)
