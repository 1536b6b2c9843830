"""Phone numbers as people type them, normalised to E.164 with `phonenumbers`.

`phonenumbers` is imported on first use, not at startup: its metadata takes longer to load than
the rest of the server's own modules together, and a server that is only listed never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Literal

from pydantic import AfterValidator, Field

if TYPE_CHECKING:
    import phonenumbers

DEFAULT_REGION = "DE"
"""Region assumed for national numbers such as ``030 1234567`` (sipgate is German)."""


def _parse_error(exc: phonenumbers.NumberParseException) -> str:
    from phonenumbers import NumberParseException as E

    return {
        E.INVALID_COUNTRY_CODE: "unknown country code; write it as +<country code> <number>",
        E.NOT_A_NUMBER: "not a phone number",
        E.TOO_SHORT_AFTER_IDD: "too short after the international prefix",
        E.TOO_SHORT_NSN: "too short",
        E.TOO_LONG: "too long",
    }.get(exc.error_type, str(exc))


def parse_number(value: str, region: str | None = None, *, valid: bool = True) -> phonenumbers.PhoneNumber:
    """Parse ``value`` or raise ``ValueError`` saying why it cannot be a phone number.

    ``valid=False`` only asks for a *possible* number (the right length for its country), not one
    in an assigned range: for settings where no money moves, such as the caller ID shown.
    """
    import phonenumbers

    if len(value) > 40:
        raise ValueError("too long to be a phone number")
    try:
        number = phonenumbers.parse(value, region or DEFAULT_REGION)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(f"{value!r} is not a phone number: {_parse_error(exc)}") from None
    if not phonenumbers.is_possible_number(number):
        raise ValueError(f"{value!r} cannot be a phone number: wrong length for its country")
    if valid and not phonenumbers.is_valid_number(number):
        raise ValueError(f"{value!r} is not a valid number in its numbering plan")
    return number


def to_e164(value: str) -> str:
    """Normalise ``value`` (e.g. ``'+49 30 1234 5678'`` or ``'030 12345678'``) to E.164."""
    import phonenumbers

    return phonenumbers.format_number(parse_number(value), phonenumbers.PhoneNumberFormat.E164)


def possible_e164(value: str) -> str:
    """Like ``to_e164`` but only checks that ``value`` is a possible number, e.g. ``+15551234567``.

    For numbers that are shown or matched, never dialled, forwarded to or texted (a caller ID, a
    default "send as" number, a history filter): the providers' own examples use reserved ranges.
    """
    import phonenumbers

    return phonenumbers.format_number(parse_number(value, valid=False), phonenumbers.PhoneNumberFormat.E164)


def same_number(written: str | None, e164: str) -> bool:
    """Whether a number as a provider lists it (``+49…``, ``49…``, ``0049…``, ``030 …``) is ``e164``."""
    if not written:
        return False
    digits = "".join(ch for ch in written if ch.isdigit())
    candidates = [written, "+" + digits, "+" + digits.removeprefix("00")]
    for candidate in candidates:
        try:
            if to_e164(candidate) == e164:
                return True
        except ValueError:
            continue
    return False


def costly_kind(e164: str) -> Literal["premium-rate", "shared-cost"] | None:
    """Whether ``e164`` is a premium-rate or shared-cost number (what the guardrails block), else None."""
    import phonenumbers
    from phonenumbers import PhoneNumberType

    kind = phonenumbers.number_type(phonenumbers.parse(e164, None))
    if kind == PhoneNumberType.PREMIUM_RATE:
        return "premium-rate"
    if kind == PhoneNumberType.SHARED_COST:
        return "shared-cost"
    return None


def pretty(number: str | None) -> str:
    """``+493012345678`` as people read it (``+49 30 12345678``); "anonymous" for no number."""
    import phonenumbers

    if not number:
        return "anonymous"
    try:
        return phonenumbers.format_number(
            phonenumbers.parse(number, None), phonenumbers.PhoneNumberFormat.INTERNATIONAL
        )
    except phonenumbers.NumberParseException:
        return number


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
"""A phone number that is dialled, forwarded to or texted: it must be valid in its numbering plan."""

ShownNumber = Annotated[
    str,
    AfterValidator(possible_e164),
    Field(description="Phone number, e.g. +49 30 1234567."),
]
"""A number that is shown or matched but never called (caller IDs, filters): a possible number suffices."""
