"""Phone numbers in E.164, parsed by ``phonenumbers`` (never by hand)."""

from __future__ import annotations

import phonenumbers
from django.conf import settings

from core.errors import ValidationFailed


def phone_normalize(raw: str, *, field: str = "phone") -> str:
    """Return ``raw`` as E.164 or raise :class:`ValidationFailed` naming ``field``."""
    region = settings.PHONE_DEFAULT_REGION
    hint = "Send the number in international format, e.g. +79161234567."
    try:
        parsed = phonenumbers.parse(str(raw), region)
    except phonenumbers.NumberParseException:
        raise ValidationFailed(
            f"{field} is not a phone number. {hint}",
            errors={field: [f"Not a phone number. {hint}"]},
        ) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationFailed(
            f"{field} is not a valid phone number. {hint}",
            errors={field: [f"Not a valid phone number. {hint}"]},
        )
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)
