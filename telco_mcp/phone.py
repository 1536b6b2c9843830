"""Phone numbers as people type them, normalised to E.164 with `phonenumbers`."""

from __future__ import annotations

from typing import Annotated

import phonenumbers
from phonenumbers import NumberParseException, PhoneNumberType
from pydantic import AfterValidator, Field

DEFAULT_REGION = "DE"
"""Region assumed for national numbers such as ``030 1234567`` (sipgate is German)."""

_PARSE_ERRORS = {
    NumberParseException.INVALID_COUNTRY_CODE: "unknown country code; write it as +<country code> <number>",
    NumberParseException.NOT_A_NUMBER: "not a phone number",
    NumberParseException.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
    NumberParseException.TOO_SHORT_NSN: "too short",
    NumberParseException.TOO_LONG: "too long",
}


def parse_number(value: str, region: str | None = None) -> phonenumbers.PhoneNumber:
    """Parse ``value`` or raise ``ValueError`` saying why it cannot be a phone number."""
    if len(value) > 40:
        raise ValueError("too long to be a phone number")
    try:
        number = phonenumbers.parse(value, region or DEFAULT_REGION)
    except NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number: {_PARSE_ERRORS.get(exc.error_type, str(exc))}") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{value!r} cannot be a phone number: wrong length for its country")
    if not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid number in its numbering plan")
    return number


def to_e164(value: str) -> str:
    """Normalise ``value`` (e.g. ``'+49 30 1234 5678'`` or ``'030 12345678'``) to E.164."""
    return phonenumbers.format_number(parse_number(value), phonenumbers.PhoneNumberFormat.E164)


def number_type(e164: str) -> PhoneNumberType | int:
    """The ``phonenumbers`` number type (premium rate, shared cost, mobile, ...)."""
    return phonenumbers.number_type(phonenumbers.parse(e164, None))


def mask(e164: str, keep: int = 4) -> str:
    """Mask all but the last ``keep`` digits: ``+4915799912345`` -> ``+*********2345``."""
    if len(e164) <= keep + 1:
        return e164
    head = "+" if e164.startswith("+") else ""
    digits = e164[len(head) :]
    return head + "*" * (len(digits) - keep) + digits[-keep:]


PhoneNumber = Annotated[
    str,
    AfterValidator(to_e164),
    Field(description="Phone number, e.g. +49 30 1234567."),
]
"""A phone number input, normalised to E.164 before any request is built."""
