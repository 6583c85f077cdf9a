"""Accent-insensitive search keys: `giao hang cham` finds "Giao hàng chậm", `dang` finds "Đặng"."""

import html
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from app.kit.normalization import normalize_email, normalize_phone

# Letters that Unicode does not decompose into a base letter and a combining mark.
_UNDECOMPOSABLE = str.maketrans({"đ": "d", "Đ": "d", "ø": "o", "Ø": "o", "ł": "l", "Ł": "l", "ß": "ss"})
_SPACES = re.compile(r"\s+")


def fold(text: str) -> str:
    """Lowercase, without diacritics, with runs of whitespace collapsed."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_UNDECOMPOSABLE))
    stripped = "".join(char for char in decomposed if not unicodedata.combining(char))
    return _SPACES.sub(" ", stripped.casefold()).strip()


def search_key(*parts: str | None) -> str:
    """The text stored beside a row for `q` searches: its searchable fields, folded."""
    return " | ".join(fold(part) for part in parts if part)


def search_terms(query: str) -> list[str]:
    """The words of a query, folded; a row matches when its key contains each of them."""
    return [term for term in fold(query).split(" ") if term]


def like_pattern(term: str) -> str:
    """A LIKE pattern matching `term` anywhere, with LIKE's wildcards taken literally."""
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


_QUERY_PARTS = re.compile(r'"([^"]*)"|([^\s"]+)')
_NUMBER = re.compile(r"^#?(\d{1,18})$")
_PHONE = re.compile(r"^\+?[\d\s().-]{6,30}$")
_REFERENCE = re.compile(r"^\S{1,200}$")


@dataclass(frozen=True)
class TextQuery:
    """What a search for `q` looks for: every term (a word, or a quoted phrase whose words must stand
    side by side) folded; the query as typed for exact matches; and what names one ticket or one contact."""

    typed: str
    terms: tuple[str, ...]
    number: int | None = None
    email: str | None = None
    phone: str | None = None
    reference: str | None = None

    @property
    def phrase(self) -> str:
        """Every term side by side, in order: the closer kind of match."""
        return " ".join(self.terms)

    @property
    def accented(self) -> bool:
        """Whether the query was typed with accents (or đ): only then do texts with those very accents
        rank first. Typed without, it asks for no accents in particular."""
        return fold(self.typed) != self.typed.casefold()


def parse_query(query: str, phone_region: str) -> TextQuery:
    """`q` read once: `"giao hang cham" hoàn` is the phrase `giao hang cham` and the word `hoan`."""
    typed = _SPACES.sub(" ", query.replace('"', " ")).strip()
    terms = []
    for phrase, word in _QUERY_PARTS.findall(query):
        term = fold(phrase or word)
        if term and term not in terms:
            terms.append(term)
    number = _NUMBER.match(typed)
    email = phone = None
    if "@" in typed:
        try:
            email = normalize_email(typed)
        except ValueError:
            email = None
    elif _PHONE.match(typed):
        try:
            phone = normalize_phone(typed, phone_region)
        except ValueError:
            phone = None
    return TextQuery(
        typed=typed,
        terms=tuple(terms),
        number=int(number.group(1)) if number else None,
        email=email,
        phone=phone,
        reference=typed if _REFERENCE.match(typed) else None,
    )


def fold_with_offsets(text: str) -> tuple[str, list[int]]:
    """`fold(text)` with, for each of its characters, the index in `text` of the character it came from."""
    folded: list[str] = []
    origins: list[int] = []
    for index, char in enumerate(text):
        if char.isspace():
            if folded and folded[-1] != " ":
                folded.append(" ")
                origins.append(index)
            continue
        for piece in fold(char):
            folded.append(piece)
            origins.append(index)
    if folded and folded[-1] == " ":
        folded.pop()
        origins.pop()
    return "".join(folded), origins


def highlight(text: str, terms: Sequence[str], *, context: int = 60) -> str | None:
    """A short excerpt of `text` around the first place one of `terms` (folded) occurs, HTML-escaped,
    with every occurrence of a term in it wrapped in `<mark>`…`</mark>`; None when none occurs."""
    folded, origins = fold_with_offsets(text)
    spans = []
    for term in sorted(terms, key=len, reverse=True):
        start = folded.find(term)
        while start != -1 and term:
            end = start + len(term)
            if not any(start < taken_end and taken_start < end for taken_start, taken_end in spans):
                spans.append((start, end))
            start = folded.find(term, end)
    if not spans:
        return None
    spans.sort()
    first_start, first_end = spans[0]
    begin = max(0, origins[first_start] - context)
    finish = min(len(text), origins[first_end - 1] + 1 + context)
    parts = ["…" if begin > 0 else ""]
    cursor = begin
    for start, end in spans:
        original_start, original_end = origins[start], origins[end - 1] + 1
        if original_start < cursor or original_end > finish:
            continue
        parts.append(html.escape(text[cursor:original_start]))
        parts.append(f"<mark>{html.escape(text[original_start:original_end])}</mark>")
        cursor = original_end
    parts.append(html.escape(text[cursor:finish]))
    parts.append("…" if finish < len(text) else "")
    return _SPACES.sub(" ", "".join(parts)).strip()
