"""@mentions in a note's text: `@lan.nguyen`, `@crm-user-42`, not the `@` of an email address."""

import re

# Not after a letter, digit, dot or another @ (so `lan@shop.vn` names nobody); a handle is letters,
# digits, `_`, `.` and `-`, and ends on a letter or digit (so a sentence's full stop is left out).
_MENTION = re.compile(r"(?<![\w.@])@(\w(?:[\w.\-]*\w)?)")

MAX_MENTIONS = 50


def mentioned_handles(body: str) -> list[str]:
    """The handles mentioned in `body`, lower-cased, each once, in order of first mention."""
    return list(dict.fromkeys(match.lower() for match in _MENTION.findall(body)))[:MAX_MENTIONS]
