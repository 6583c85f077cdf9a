"""How email addresses, email domains and phone numbers are stored, so that equal ones compare equal."""

from typing import Annotated

import phonenumbers
from email_validator import EmailNotValidError, validate_email
from pydantic import AfterValidator, EmailStr, TypeAdapter, ValidationError

PHONE_INPUT_MAX_LENGTH = 64

# Lowercased whole: mail systems treat the local part case-insensitively in practice.
EmailAddress = Annotated[EmailStr, AfterValidator(str.lower)]
_email_address = TypeAdapter(EmailAddress)


def normalize_email(value: str) -> str:
    """The address validated and lowercased; ValueError says why an invalid one is refused."""
    try:
        return _email_address.validate_python(value.strip())
    except ValidationError as exc:
        raise ValueError(exc.errors()[0]["msg"]) from None


def normalize_phone(value: str, default_region: str) -> str:
    """The number in E.164 (`0912 345 678` in VN is `+84912345678`); ValueError for an invalid one."""
    if len(value) > PHONE_INPUT_MAX_LENGTH:
        raise ValueError(f"value has more than {PHONE_INPUT_MAX_LENGTH} characters")
    try:
        number = phonenumbers.parse(value, default_region)
    except phonenumbers.NumberParseException:
        raise ValueError("value is not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise ValueError("value is not a valid phone number") from None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def national_digits(e164: str) -> str:
    """The digits of a number as dialled inside its country (`+84912345678` → `0912345678`)."""
    number = phonenumbers.parse(e164)
    national = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.NATIONAL)
    return "".join(char for char in national if char.isdigit())


def display_phone(number: str, region: str) -> str:
    """A number as people write it: the region's own numbers in their national form (`+84912345678` is
    `0912 345 678` in VN), others in international form; what is no phone number (an extension) as given."""
    try:
        parsed = phonenumbers.parse(number, region)
    except phonenumbers.NumberParseException:
        return number
    if not phonenumbers.is_valid_number(parsed):
        return number
    own = phonenumbers.region_code_for_number(parsed) == region
    form = phonenumbers.PhoneNumberFormat.NATIONAL if own else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, form)


def normalize_domain(value: str) -> str:
    """An email domain in the form normalize_email gives it (lowercase, Unicode); ValueError if invalid."""
    try:
        # Validating a whole address applies exactly the domain rules that email addresses get.
        return validate_email(f"postmaster@{value}", check_deliverability=False).domain
    except EmailNotValidError:
        raise ValueError(f"{value!r} is not a valid email domain") from None


def email_domain(email: str) -> str:
    return email.rsplit("@", 1)[1]
