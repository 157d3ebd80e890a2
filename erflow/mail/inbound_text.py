"""The text of an inbound email: bytes decoded whatever the charset, HTML turned into plain text, header
values kept to one line, and the reply told apart from the quoted history and the signature.

Customer text is data: nothing here renders, evaluates or follows it.
"""

from __future__ import annotations

import codecs
import re
from html.parser import HTMLParser

# Anything that could end a header line or has no business in one (C0, DEL, C1, Unicode line breaks).
_LINE_BREAKERS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029\ufeff]+")
_SPACES = re.compile(r"\s+")
# Controls kept out of body text (tab and newline stay).
_BODY_CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u2028\u2029]")
_SURROGATES = re.compile(r"[\ud800-\udfff]")
_MANY_BLANK_LINES = re.compile(r"\n{3,}")
REPLY_LANGUAGES = ["en", "de", "fr", "es", "it", "nl"]
MAX_REPLY_INPUT = 100_000  # characters given to the reply parser; its regexes are slow on megabytes


def _unescape_surrogate(match: re.Match[str]) -> str:
    code = ord(match.group())
    return chr(code - 0xDC00) if 0xDC80 <= code <= 0xDCFF else "\ufffd"


def no_surrogates(text: str) -> tuple[str, bool]:
    """``text`` with the raw bytes the email package keeps as surrogates read as UTF-8 (RFC 6532), else
    as latin-1; the second value says whether the latin-1 repair was needed."""
    if not _SURROGATES.search(text):
        return text, False
    try:
        return text.encode("utf-8", "surrogateescape").decode("utf-8"), False
    except UnicodeError:
        return _SURROGATES.sub(_unescape_surrogate, text), True


def one_line(text: str) -> str:
    """A header value that cannot start a new header line: every control character, CR, LF and Unicode
    line separator becomes a space, runs of white space one space."""
    return _SPACES.sub(" ", _LINE_BREAKERS.sub(" ", text)).strip()


def body_text(text: str) -> str:
    """Body text with newlines normalised to LF and stray control characters gone."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    return _BODY_CONTROLS.sub("", text)


def decode(data: bytes, charset: str | None, where: str) -> tuple[str, str | None]:
    """``data`` decoded with the declared ``charset``; an unknown or wrong charset is read as latin-1
    (which never fails) and the second value says so."""
    name = (charset or "").strip().strip('"').lower()
    if not name:
        try:
            return data.decode("utf-8"), None
        except UnicodeDecodeError:
            return data.decode("latin-1"), f"no charset in {where} and not UTF-8, read as latin-1"
    try:
        text_codec = getattr(codecs.lookup(name), "_is_text_encoding", True)
    except (LookupError, ValueError, TypeError):
        text_codec = False
    if not text_codec:
        return data.decode("latin-1"), f"unknown charset {name[:40]!r} in {where}, read as latin-1"
    try:
        return data.decode(name), None
    except (UnicodeError, LookupError, ValueError, TypeError):
        return data.decode("latin-1"), f"undecodable charset {name[:40]!r} in {where}, read as latin-1"


class _TextFromHtml(HTMLParser):
    """Collects the readable text of an HTML body: scripts and styles dropped, block elements and <br>
    on lines of their own, <blockquote> lines marked '> ' so the reply parser sees them as quoted."""

    DROPPED = frozenset({"script", "style", "head", "title", "template", "object", "iframe", "svg"})
    BLOCKS = frozenset(
        {"p", "div", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "hr", "table", "ul", "ol"}
        | {"pre", "section", "article", "header", "footer", "dd", "dt", "address", "blockquote"}
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.lines: list[str] = []
        self.current: list[str] = []
        self.dropped = 0
        self.quoted = 0
        self.pre = 0

    def newline(self) -> None:
        line = "".join(self.current)
        line = line if self.pre else _SPACES.sub(" ", line).strip()
        self.lines.append(("> " * self.quoted + line) if line else ("> " * self.quoted).rstrip())
        self.current = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.DROPPED:
            self.dropped += 1
        elif tag == "br":
            self.newline()
        elif tag in self.BLOCKS:
            if self.current:
                self.newline()
            if tag == "p" and self.lines and self.lines[-1].strip("> "):
                self.lines.append("> " * self.quoted if self.quoted else "")
            self.quoted += tag == "blockquote"
            self.pre += tag == "pre"
        elif tag == "td" and self.current:
            self.current.append(" ")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "br" or (tag in self.BLOCKS and self.current):
            self.newline()

    def handle_endtag(self, tag: str) -> None:
        if tag in self.DROPPED:
            self.dropped = max(0, self.dropped - 1)
        elif tag in self.BLOCKS:
            if self.current:
                self.newline()
            if tag == "blockquote":
                self.quoted = max(0, self.quoted - 1)
            if tag == "pre":
                self.pre = max(0, self.pre - 1)

    def handle_data(self, data: str) -> None:
        if not self.dropped:
            self.current.append(data)

    def text(self) -> str:
        if self.current:
            self.newline()
        return "\n".join(line.rstrip() for line in self.lines)


def html_to_text(html: str) -> str:
    """The readable text of an HTML body (never rendered: read with the standard library's tokenizer)."""
    reader = _TextFromHtml()
    try:
        reader.feed(html)
        reader.close()
        text = reader.text()
    except (AssertionError, ValueError, IndexError, RecursionError):
        text = re.sub(r"<[^>]*>", " ", html)
    return _MANY_BLANK_LINES.sub("\n\n", body_text(text)).strip("\n")


def reply_of(text: str) -> str:
    """The newest reply in ``text``: quoted history, the client's 'On ... wrote:' / 'From: ... Sent:'
    header and the signature gone (mail-parser-reply); ``text`` stripped when that leaves nothing."""
    from mailparser_reply import EmailReplyParser

    try:
        replies = EmailReplyParser(languages=list(REPLY_LANGUAGES)).read(text[:MAX_REPLY_INPUT]).replies
        reply = replies[0].body if replies else ""
    except (re.error, IndexError, ValueError, TypeError, RecursionError):
        reply = ""
    return reply.strip() or text.strip()
