"""Email addresses and header values checked as the email code will take them: one line, no control
characters, an address a message can be sent to.

Pure (the standard library's email parser, no network); every refusal is an InvalidData.
"""

from __future__ import annotations

import email.errors
import email.policy
import re
from email.headerregistry import Address

from erflow.core.errors import InvalidData

# Characters that end or break a header line, or have no business in one.
_CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f\x85\u2028\u2029]")


def check_line(value: str, what: str) -> None:
    if _CONTROL.search(value):
        raise InvalidData(f"email field '{what}' contains a line break or control character: {value!r}")


def addr_spec(value: str, what: str) -> Address:
    check_line(value, what)
    try:
        address = Address(addr_spec=value)
    except (ValueError, IndexError, email.errors.HeaderParseError):
        address = None
    # The parser drops comments and decodes encoded words: what it gives back must be what was given.
    if address is None or not address.username or not address.domain or address.addr_spec != value:
        raise InvalidData(f"email field '{what}' is not a valid address: {value!r}")
    return address


def address_problem(value: str) -> str | None:
    """Why ``value`` cannot be a recipient's address (a bare addr-spec), or None."""
    try:
        addr_spec(value, "to")
    except InvalidData:
        return "not an address an email can be sent to"
    return None


def mailbox(value: str, what: str) -> Address:
    """Parse 'Display Name <addr>' or 'addr' into one Address, or raise InvalidData."""
    check_line(value, what)
    try:
        header = email.policy.default.header_factory("From", value)
        addresses = list(getattr(header, "addresses", ()))
        defects = list(getattr(header, "defects", ()))
    except (ValueError, IndexError, email.errors.HeaderParseError):
        addresses, defects = [], []
    if len(addresses) != 1 or defects or not addresses[0].username or not addresses[0].domain:
        raise InvalidData(f"email field '{what}' is not a valid address: {value!r}")
    found: Address = addresses[0]
    return Address(display_name=found.display_name, username=found.username, domain=found.domain)
