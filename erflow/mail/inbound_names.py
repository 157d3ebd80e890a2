"""File names for a customer's attachments that are safe to write anywhere: one plain name, no path."""

from __future__ import annotations

import email.errors
import email.header
import mimetypes
import re
import unicodedata
import urllib.parse

MAX_NAME = 100
_RESERVED = frozenset(
    {"con", "prn", "aux", "nul", "clock$", "conin$", "conout$"}
    | {f"{d}{n}" for d in ("com", "lpt") for n in "0123456789¹²³"}
)
_RFC2231 = re.compile(r"^([A-Za-z0-9_.:-]+)'[A-Za-z0-9-]*'(.*%[0-9A-Fa-f]{2}.*)$")
_ENCODED_WORD = re.compile(r"=\?[^?\s]+\?[bBqQ]\?[^?\s]*\?=")
_WINDOWS_BAD = re.compile(r'[<>:"|?*\x00-\x1f]')
_DOTS = re.compile(r"\.{2,}")
_SPACES = re.compile(r"\s+")
_EXTENSION = re.compile(r"^\.[A-Za-z0-9][A-Za-z0-9_-]{0,15}$")


def _decoded(name: str) -> str:
    """``name`` with an RFC 2231 (charset''percent-encoded) or RFC 2047 (=?charset?q?...?=) form decoded."""
    match = _RFC2231.match(name)
    if match:
        try:
            name = urllib.parse.unquote(match.group(2), encoding=match.group(1), errors="replace")
        except (LookupError, ValueError):
            name = urllib.parse.unquote(match.group(2), encoding="latin-1")
    if _ENCODED_WORD.search(name):
        try:
            parts = email.header.decode_header(name)
            name = "".join(
                p.decode(c or "latin-1", errors="replace") if isinstance(p, bytes) else p for p, c in parts
            )
        except (email.errors.HeaderParseError, LookupError, ValueError, UnicodeError, AssertionError):
            pass
    return name


def _clean(name: str) -> str:
    name = unicodedata.normalize("NFC", _decoded(name))
    # Control, format (bidi overrides), surrogate, private and unassigned characters, and line breaks.
    name = "".join(ch for ch in name if unicodedata.category(ch)[0] != "C" and ch not in "\u2028\u2029")
    name = re.split(r"[/\\]", name)[-1]
    name = re.sub(r"^[A-Za-z]:", "", name)
    name = _WINDOWS_BAD.sub("_", name)
    name = _DOTS.sub(".", _SPACES.sub(" ", name))
    return name.strip(" .")


def _split(name: str) -> tuple[str, str]:
    stem, dot, ext = name.rpartition(".")
    if dot and stem and _EXTENSION.match("." + ext):
        return stem, "." + ext
    return name, ""


def _fit(stem: str, ext: str, suffix: str = "") -> str:
    stem = stem[: MAX_NAME - len(ext) - len(suffix)].rstrip(" .")
    return f"{stem or 'attachment'}{suffix}{ext}"


def extension_for(content_type: str) -> str:
    """The usual extension of a content type ('.pdf'), '' when there is none known."""
    ext = mimetypes.guess_extension(content_type.split(";")[0].strip().lower(), strict=False) or ""
    return ext if _EXTENSION.match(ext) else ""


def safe_filename(name: str | None, taken: set[str], *, content_type: str = "") -> str:
    """A name for an attachment that is one plain file name: no path separators, no '..', no leading
    dot, no control characters, no drive letter or reserved device name (CON, NUL, COM1...), at most 100
    characters with its extension kept, never empty ('attachment' plus the extension of
    ``content_type``), and none of ``taken`` compared case-insensitively (-2, -3... before the
    extension). ``taken`` is not changed."""
    stem, ext = _split(_clean(name or ""))
    if not stem or stem.startswith("."):
        stem, ext = "attachment", ext or extension_for(content_type)
    if stem.split(".")[0].strip().lower() in _RESERVED:
        stem = "_" + stem
    folded = {t.casefold() for t in taken}
    candidate = _fit(stem, ext)
    number = 1
    while candidate.casefold() in folded:
        number += 1
        candidate = _fit(stem, ext, f"-{number}")
    return candidate
