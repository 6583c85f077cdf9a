"""Finding a customer's identifiers in text, and taking them out.

A `Redactor` knows one contact's identifiers (name, email addresses, phone numbers, channel ids, the
CRM's id) and replaces every occurrence with `ERASED`; its SQL conditions find the rows that may hold
one (a superset: the text is then redacted exactly here, in Python)."""

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any
from uuid import UUID

import phonenumbers
from sqlalchemy import ColumnElement, String, cast, false, func, or_

from app.kit.search import fold, like_pattern
from app.models import Contact, ContactIdentity
from app.models.enums import IdentityKind

ERASED = "[erased]"
# Shorter identifiers are not looked for in text: they would take common words with them.
_SHORTEST = 3
# What people put between the digits of a phone number.
_PHONE_SEPARATORS = " .-()"
_SEPARATOR = r"[\s.\-()]*"


@dataclass(frozen=True)
class Redactor:
    contact_id: UUID
    # Looked for as written, case ignored: the name, email addresses, channel ids, the CRM's id.
    literals: tuple[str, ...]
    # Phone numbers, by their national significant digits (`912345678` for `+84912345678`), with the
    # country codes they may be written with.
    phones: tuple[tuple[str, str], ...]

    @classmethod
    def of(cls, contact: Contact, identities: Sequence[ContactIdentity]) -> "Redactor":
        literals: list[str] = []
        phones: list[tuple[str, str]] = []
        for kind, value in [
            (IdentityKind.email, contact.email),
            (IdentityKind.phone, contact.phone),
            (IdentityKind.external, contact.external_id),
            (None, contact.name),
            *((identity.kind, identity.value) for identity in identities),
        ]:
            if not value or len(value.strip()) < _SHORTEST:
                continue
            if kind is IdentityKind.phone and (national := _national(value)) is not None:
                phones.append(national)
            literals.append(value.strip())
        return cls(contact.id, tuple(dict.fromkeys(literals)), tuple(dict.fromkeys(phones)))

    @cached_property
    def _pattern(self) -> re.Pattern[str] | None:
        alternatives = [re.escape(literal) for literal in sorted(self.literals, key=len, reverse=True)]
        for digits, country_code in self.phones:
            prefix = rf"(?:(?:\+|00)?{country_code}{_SEPARATOR}|0{_SEPARATOR})?"
            alternatives.append(prefix + _SEPARATOR.join(digits))
        if not alternatives:
            return None
        # Whole identifiers only: not inside a longer word, number or address.
        return re.compile(rf"(?<![\w@+.])(?:{'|'.join(alternatives)})(?!\w)", re.IGNORECASE)

    def redact(self, text: str) -> str:
        pattern = self._pattern
        return text if pattern is None else pattern.sub(ERASED, text)

    def redact_json(self, value: Any) -> Any:
        """Every string of a JSON value redacted, keys included."""
        if isinstance(value, str):
            return self.redact(value)
        if isinstance(value, list):
            return [self.redact_json(item) for item in value]
        if isinstance(value, dict):
            return {self.redact(key): self.redact_json(item) for key, item in value.items()}
        return value

    def mentioned_in(
        self, column: Any, *, folded: bool = False, with_id: bool = False
    ) -> ColumnElement[bool]:
        """Rows whose `column` (text, or JSON cast to text) may name the contact; `folded`: the column is a
        search key (app/kit/search.py), compared with the identifiers folded; `with_id`: the contact's id
        counts (JSON that refers to the contact)."""
        text = cast(column, String)
        needles = _needles(self.literals, folded)
        if with_id:
            needles.append(str(self.contact_id))
        conditions = [text.like(like_pattern(needle)) for needle in needles]
        if not folded:
            conditions += [func.lower(text).like(like_pattern(needle.lower())) for needle in self.literals]
        digits_only = func.translate(text, _PHONE_SEPARATORS, "")
        conditions += [digits_only.like(like_pattern(digits)) for digits, _ in self.phones]
        return or_(*conditions) if conditions else false()


def _needles(literals: Iterable[str], folded: bool) -> list[str]:
    return list(dict.fromkeys(fold(literal) if folded else literal for literal in literals))


def _national(e164: str) -> tuple[str, str] | None:
    try:
        number = phonenumbers.parse(e164)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.national_significant_number(number), str(number.country_code)
