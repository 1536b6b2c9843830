"""Phone numbers as people type them, normalised to E.164 with `phonenumbers`.

`phonenumbers` is imported on first use, not at startup: its metadata takes longer to load than
the rest of the server's own modules together, and a server that is only listed never needs it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

from pydantic import AfterValidator, Field

from telco_mcp.untrusted import quote

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


# Global services: ITU-T E.164 country codes that belong to no country (phonenumbers' region "001").
# All but international freephone (+800) cost more than an ordinary call, most of them much more.
GLOBAL_SERVICES = {
    808: "an International Shared Cost Service (+808) number",
    870: "an Inmarsat satellite (+870) number",
    878: "a Universal Personal Telecommunications (+878) number",
    881: "a Global Mobile Satellite System (+881) number",
    882: "an International Networks (+882: satellite, maritime and global carriers) number",
    883: "an International Networks (+883: global carriers) number",
    888: "an OCHA disaster-relief (+888) number",
    979: "an International Premium Rate Service (+979) number",
}
FREE_GLOBAL_SERVICES = frozenset({800})  # Universal International Freephone Numbers


def costly_kind(e164: str) -> str | None:
    """What makes ``e164`` premium-rate or high-cost, as words ("a premium-rate number"); None if ordinary.

    The rule `TELCO_MCP_BLOCK_PREMIUM` enforces, decided from phonenumbers' metadata:

    - number types PREMIUM_RATE, SHARED_COST and PERSONAL_NUMBER (e.g. +49 900, +49 180 and +49 137,
      +44 70, +49 700: personal numbers are forwarded anywhere at a caller-paid premium and are a
      classic fraud route);
    - every global service, i.e. every country code that belongs to no country, except the free
      +800: +808, +870, +878, +881, +882, +883, +888, +979 (satellite phones, international
      networks, international premium rate), also any such code the metadata adds later.

    Ordinary types pass: FIXED_LINE, MOBILE, FIXED_LINE_OR_MOBILE, TOLL_FREE, and also VOIP (national
    VoIP ranges such as +49 32 are priced like geographic numbers), UAN (company numbers such as
    +44 300, priced like geographic numbers in most plans), PAGER and VOICEMAIL. Deny such ranges
    with `TELCO_MCP_DENIED_PREFIXES` if your tariff makes them expensive.
    """
    import phonenumbers
    from phonenumbers import PhoneNumberType

    number = phonenumbers.parse(e164, None)
    code = number.country_code or 0
    if phonenumbers.region_code_for_country_code(code) == phonenumbers.REGION_CODE_FOR_NON_GEO_ENTITY:
        if code in FREE_GLOBAL_SERVICES:
            return None
        return GLOBAL_SERVICES.get(code, f"a high-cost global service (+{code}) number")
    return {
        PhoneNumberType.PREMIUM_RATE: "a premium-rate number",
        PhoneNumberType.SHARED_COST: "a shared-cost number",
        PhoneNumberType.PERSONAL_NUMBER: "a personal number (forwarded at a caller-paid premium)",
    }.get(phonenumbers.number_type(number))


def pretty(number: str | None) -> str:
    """``+493012345678`` as people read it (``+49 30 12345678``); "anonymous" for no number.

    Numbers in summaries often come from the provider (a call's participants, an SMS sender): what
    is not a phone number is shown as a quoted, escaped literal, never as bare words.
    """
    import phonenumbers

    if not number:
        return "anonymous"
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return quote(number)
    formatted = phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.INTERNATIONAL)
    if "".join(c for c in formatted if c.isdigit()) != "".join(c for c in number if c in "0123456789"):
        return quote(number)  # phonenumbers found a number inside other text: show all of it, quoted
    return formatted


def mask(e164: str, keep: int = 4) -> str:
    """Hide the subscriber digits but keep what a reviewer needs: ``+49 900 ***4567``.

    The country code and the national destination code (the area code or service prefix that makes
    a number premium-rate, mobile or satellite) stay, and so do the last ``keep`` digits; at least
    two digits are always hidden. A string phonenumbers cannot read keeps only its last digits.
    """
    import phonenumbers

    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        number = None
    if number is None or number.country_code is None:
        if len(e164) <= keep + 1:
            return e164
        head = "+" if e164.startswith("+") else ""
        digits = e164[len(head) :]
        return head + "*" * (len(digits) - keep) + digits[-keep:]
    national = phonenumbers.national_significant_number(number)
    prefix_length = phonenumbers.length_of_national_destination_code(number)
    if len(national) - prefix_length < 3:
        prefix_length = 0
    prefix, subscriber = national[:prefix_length], national[prefix_length:]
    shown = max(0, min(keep, len(subscriber) - 2))
    hidden = "*" * (len(subscriber) - shown) + subscriber[len(subscriber) - shown :]
    return " ".join(part for part in (f"+{number.country_code}", prefix, hidden) if part)


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
