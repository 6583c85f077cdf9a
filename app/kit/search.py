"""Accent-insensitive search keys: `giao hang cham` finds "Giao hàng chậm", `dang` finds "Đặng"."""

import re
import unicodedata

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
