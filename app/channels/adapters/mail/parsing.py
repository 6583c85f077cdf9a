"""Inbound email: raw RFC 5322 bytes into what a help desk keeps, never refusing a message.

Customers write from every client and charset there is. Vietnamese mail still comes in windows-1258
(which decodes into combining tone marks), some clients label their text with charsets Python does not
know, and some send bytes that fit no charset at all. Each of these falls back to a readable guess
instead of an error, because a mail that fails to parse is a customer nobody answers. Every text comes
out in NFC, so that the same words always compare equal.
"""

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from email import policy
from email.header import decode_header
from email.headerregistry import BaseHeader, HeaderRegistry
from email.message import EmailMessage, Message
from email.parser import BytesParser, HeaderParser
from email.utils import collapse_rfc2231_value, getaddresses
from html import unescape
from html.parser import HTMLParser

from app.attachments.service import clean_filename


class _LenientHeaders(HeaderRegistry):
    """A header the parser cannot make sense of loses its parameters, then its value, instead of raising:
    the email package's header parser fails on some malformed values (`Content-Type: text/plain;.*`),
    and it parses Content-Type while it reads the message. The raw value stays in `raw_items()`."""

    def __call__(self, name: str, value: str) -> BaseHeader:
        for attempt in (value, value.partition(";")[0]):
            try:
                return super().__call__(name, attempt)
            except Exception:  # noqa: S112 - the next attempt is the fallback
                continue
        return super().__call__(name, "")


_POLICY = policy.default.clone(header_factory=_LenientHeaders())
# An enclosed message is kept as it came: long header lines are not refolded.
_AS_SENT = _POLICY.clone(max_line_length=0)
# The parser keeps bytes it could not decode as lone surrogates (U+DC80..U+DCFF, one per byte).
_ESCAPED_BYTES = re.compile("[\udc80-\udcff]+")
_LONE_SURROGATES = re.compile("[\ud800-\udfff]")
_LINE_ENDS = re.compile(r"\r\n?")
# An HTML body may name its charset only in a <meta> tag.
_META_CHARSET = re.compile(rb"<meta[^>]{0,200}?charset=[\"']?([\w.:-]+)", re.IGNORECASE)
_PLAIN_ADDRESS = re.compile(r"[^\s\"<>@,;:()\[\]]+@[^\s\"<>@,;:()\[\]]+")
_LOCAL_PART = re.compile(r"[^\s\"<>@,;:()\[\]\\]+")
_ANGLED_IDS = re.compile(r"<([^<>]*)>")
_STATUS_CODE = re.compile(r"\b[245]\.\d{1,3}\.\d{1,3}\b")
_DIAGNOSTIC_TYPE = re.compile(r"^[\w.-]+\s*;\s*")
_DELIVERY_STATUS_TYPES = frozenset({"message/delivery-status", "message/global-delivery-status"})
_ORIGINAL_TYPES = frozenset(
    {"message/rfc822", "message/global", "text/rfc822-headers", "message/global-headers"}
)
_AUTOMATIC_PRECEDENCE = frozenset({"bulk", "junk", "auto_reply"})
# Subjects mail clients give the vacation replies they send, several of them with no header saying so:
# Outlook's (in the languages of its users here and a few more), the common "Out of Office" and
# "Autoreply" forms (Gmail and Apple Mail users, other mailers), and Lotus Notes' "AUTO: … is out of the
# office". Matched at the start of the subject, case aside.
_VACATION_SUBJECT = re.compile(
    r"(?:automatic reply|auto[- ]?reply|out of (?:the )?office(?: ?auto ?reply| reply)?|trả lời tự động"
    r"|automatische antwort|réponse automatique|respuesta automática|risposta automatica"
    r"|resposta automática|automatisch antwoord|自动回复|自動回覆|自動応答)\s*[:\uff1a]"
    r"|out of (?:the )?office(?: ?auto ?reply| reply)?$"
    r"|auto:.*\bis out of (?:the )?office\b",
    re.IGNORECASE,
)
_DAEMONS = ("mailer-daemon", "postmaster")
_RECIPIENT_HEADERS = ("to", "cc", "delivered-to", "x-original-to")

_EXTENSIONS = {
    "application/pdf": ".pdf",
    "application/zip": ".zip",
    "application/msword": ".doc",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": ".docx",
    "application/vnd.ms-excel": ".xls",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": ".xlsx",
    "application/vnd.ms-powerpoint": ".ppt",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": ".pptx",
    "image/jpeg": ".jpg",
    "image/png": ".png",
    "image/gif": ".gif",
    "image/webp": ".webp",
    "image/heic": ".heic",
    "image/bmp": ".bmp",
    "image/tiff": ".tif",
    "image/svg+xml": ".svg",
    "audio/mpeg": ".mp3",
    "video/mp4": ".mp4",
    "text/html": ".html",
    "text/csv": ".csv",
    "text/calendar": ".ics",
    "message/rfc822": ".eml",
}

# Quote headers, matched on one line or on two lines joined (clients wrap them).
_WROTE = re.compile(r"(?:on\s.{1,300}\swrote|vào\s.{1,300}\sđã viết)\s*:", re.IGNORECASE)
_ORIGINAL_MESSAGE = re.compile(r"-{2,}\s*original message\s*-{2,}", re.IGNORECASE)
_UNDERSCORES = re.compile(r"_{10,}")
_QUOTE_FIELD = re.compile(r"\*?(from|sent|to|cc|subject|từ|đã gửi|đến|chủ đề)\s*:", re.IGNORECASE)
_FROM_LABELS = frozenset({"from", "từ"})
_SENT_LABELS = frozenset({"sent", "đã gửi"})
_SUBJECT_LABELS = frozenset({"subject", "chủ đề"})
# Outlook's block: From, Sent, To, Cc and Subject, and a line or two where a long address list wraps.
_QUOTE_BLOCK_LINES = 8
_SIGNATURE_SEPARATORS = frozenset({"-- ", "--"})

_TICKET_TOKEN = re.compile(r"\[#([0-9]+)\]")
# A ticket number is stored as a 64-bit integer.
_MAX_TICKET_DIGITS = 18
_REPLY_PREFIXES = re.compile(
    r"^(?:(?:re|fwd?|tl|trả lời|chuyển tiếp|aw|sv)(?:\[\d+\]|\^\d+)?\s*[:\uff1a]\s*)+", re.IGNORECASE
)

_SKIPPED_TAGS = frozenset({"script", "style", "title", "template"})
_BLOCK_TAGS = frozenset(
    {
        "address", "article", "aside", "blockquote", "caption", "center", "dd", "div", "dl", "dt",
        "fieldset", "figcaption", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
        "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tbody", "thead", "tfoot", "tr",
        "ul",
    }
)  # fmt: skip
_HTML_WHITESPACE = re.compile(r"[ \t\n\r\f]+")
_TAG = re.compile(r"<[^>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")


@dataclass(frozen=True)
class MailAttachment:
    filename: str
    content_type: str
    data: bytes
    content_id: str | None
    # Shown inside the HTML through `cid:`, rather than listed as a file.
    inline: bool


@dataclass(frozen=True)
class DeliveryReport:
    original_message_id: str | None
    status: str | None
    diagnostic: str | None
    permanent: bool


@dataclass(frozen=True)
class ParsedMail:
    message_id: str | None
    in_reply_to: list[str]
    references: list[str]
    from_name: str | None
    from_address: str | None
    # "" when the return path is empty (`<>`): the mail was sent by a machine that wants no answer.
    return_path: str | None
    recipients: list[str]
    # (display name, address) of each address in Cc, as written.
    copied: list[tuple[str, str]]
    subject: str
    # The new part of the message; `full_text` keeps what it quotes.
    text: str
    full_text: str
    html: str | None
    attachments: list[MailAttachment]
    # Why the mail is automatic (an out-of-office reply, a report, a bulk mailing): it must never get an
    # automatic reply, nor count as a person writing; None for a person's mail.
    automatic: str | None
    # Why the mail came through a mailing list (a person may write through one; see `automatic`).
    mailing_list: str | None
    delivery_report: DeliveryReport | None


def parse_mail(raw: bytes) -> ParsedMail:
    """Never raises: a mail the email package cannot take apart still arrives, as text."""
    try:
        return _parsed(BytesParser(policy=_POLICY).parsebytes(raw))
    # The email package has crashed on malformed input before (and recurses on deeply nested parts).
    except Exception:
        full_text = _clean(_LINE_ENDS.sub("\n", _decode(raw, None)))
        return ParsedMail(
            message_id=None,
            in_reply_to=[],
            references=[],
            from_name=None,
            from_address=None,
            return_path=None,
            recipients=[],
            copied=[],
            subject="",
            text=full_text.strip(),
            full_text=full_text,
            html=None,
            attachments=[],
            automatic=None,
            mailing_list=None,
            delivery_report=None,
        )


def _parsed(message: EmailMessage) -> ParsedMail:
    plain_parts = _plain_parts(message)
    html_part = _body(message, "html")
    html = _part_text(html_part) if html_part is not None else None
    full_text = "\n".join(_part_text(part) for part in plain_parts)
    if not full_text.strip() and html is not None:
        full_text = html_to_text(html)
    bodies = [*plain_parts, html_part]
    attachments = [_attachment(part, number) for number, part in enumerate(_file_parts(message, bodies), 1)]
    from_name, from_address = _sender(message)
    in_reply_to = _ids(message, "in-reply-to")
    references = _ids(message, "references")
    return_path = _return_path(message)
    subject = " ".join((_decoded_header(message, "subject") or "").split())
    return ParsedMail(
        message_id=next(iter(_ids(message, "message-id")), None),
        in_reply_to=in_reply_to,
        references=references,
        from_name=from_name,
        from_address=from_address,
        return_path=return_path,
        recipients=_recipients(message),
        copied=_addresses(message, "cc"),
        subject=subject,
        text=new_part(full_text),
        full_text=full_text,
        html=html,
        attachments=attachments,
        automatic=_automatic(message, subject, from_address, return_path),
        mailing_list=_mailing_list(message),
        delivery_report=_delivery_report(message, in_reply_to, references),
    )


def new_part(text: str) -> str:
    """What the sender wrote above the first quote header, without the signature: the new part of a reply.

    Falls back to the whole text when the cut would leave nothing, so a mail is never emptied.
    """
    text = unicodedata.normalize("NFC", _LINE_ENDS.sub("\n", text))
    lines = text.split("\n")
    cut = min(_quote_start(lines), _signature_start(lines), _trailing_quote_start(lines))
    return "\n".join(lines[:cut]).strip() or text.strip()


def subject_ticket_number(subject: str) -> int | None:
    """The number of the first `[#123]` token in the subject."""
    match = _TICKET_TOKEN.search(subject)
    if match is None or len(match[1]) > _MAX_TICKET_DIGITS:
        return None
    return int(match[1])


def clean_subject(subject: str) -> str:
    """The subject without reply and forward prefixes (in any language a customer's client uses) and
    without ticket tokens, to compare and show it."""
    subject = " ".join(_TICKET_TOKEN.sub(" ", unicodedata.normalize("NFC", subject)).split())
    return _REPLY_PREFIXES.sub("", subject).strip()


def html_to_text(html: str) -> str:
    """Readable text of an HTML body: blocks and `<br>` as line breaks, quotes as `> ` lines, no scripts
    or styles."""
    html = _clean(html)
    extractor = _TextExtractor()
    try:
        extractor.feed(html)
        extractor.close()
        text = extractor.text()
    # HTMLParser fails on some malformed declarations; the text between the tags is still worth having.
    except Exception:
        text = unescape(_TAG.sub("\n", html))
    lines = (line.replace("\xa0", " ").rstrip() for line in text.split("\n"))
    return unicodedata.normalize("NFC", _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip())


class _TextExtractor(HTMLParser):
    """Collects lines: a block boundary ends a line that has text, `<br>` ends a line even if empty."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self._lines: list[str] = []
        self._line: list[str] = []
        self._quote_depth = 0
        self._skip_depth = 0
        self._pre_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth += 1
        elif tag == "br":
            self._end_line()
        elif tag in _BLOCK_TAGS:
            self._soft_break()
            if tag == "blockquote":
                self._quote_depth += 1
            elif tag == "pre":
                self._pre_depth += 1
            elif tag == "li":
                self._line.append("- ")
        elif tag in ("td", "th"):
            self._line.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in _SKIPPED_TAGS:
            self._skip_depth = max(0, self._skip_depth - 1)
        elif tag in _BLOCK_TAGS:
            self._soft_break()
            if tag == "blockquote":
                self._quote_depth = max(0, self._quote_depth - 1)
            elif tag == "pre":
                self._pre_depth = max(0, self._pre_depth - 1)

    def handle_data(self, data: str) -> None:
        if self._skip_depth:
            return
        if not self._pre_depth:
            self._line.append(_HTML_WHITESPACE.sub(" ", data))
            return
        first, *rest = data.split("\n")
        self._line.append(first)
        for line in rest:
            self._end_line()
            self._line.append(line)

    def text(self) -> str:
        self._soft_break()
        return "\n".join(self._lines)

    def _soft_break(self) -> None:
        # A non-breaking space is text: Outlook writes its empty lines as `<p>&nbsp;</p>`.
        if any(chunk.strip(" \t\n\r\f") for chunk in self._line):
            self._end_line()
        self._line = []

    def _end_line(self) -> None:
        content = "".join(self._line)
        content = content.strip(" ") if not self._pre_depth else content
        self._lines.append(("> " * self._quote_depth + content).rstrip(" "))
        self._line = []


def _quote_start(lines: list[str]) -> int:
    """The index of the first line of a quote header, or len(lines)."""
    for index, line in enumerate(lines):
        line = line.strip()
        if not line or line.startswith(">"):
            continue
        following = [candidate.strip() for candidate in lines[index + 1 : index + 1 + _QUOTE_BLOCK_LINES]]
        two_lines = f"{line} {following[0]}" if following and not following[0].startswith(">") else line
        if (
            _WROTE.fullmatch(line)
            or _WROTE.fullmatch(two_lines)
            or _ORIGINAL_MESSAGE.fullmatch(line)
            or (_UNDERSCORES.fullmatch(line) and _from_follows(following))
            or _is_quote_block(line, following)
        ):
            return index
    return len(lines)


def _from_follows(following: list[str]) -> bool:
    label = _label(next((line for line in following if line), ""))
    return label in _FROM_LABELS


def _is_quote_block(line: str, following: list[str]) -> bool:
    """Outlook's "From: / Sent: / To: / Subject:" block (or "Từ: / Đã gửi: / Đến: / Chủ đề:")."""
    if _label(line) not in _FROM_LABELS:
        return False
    labels = {_label(candidate) for candidate in following}
    return bool(labels & _SENT_LABELS) and bool(labels & _SUBJECT_LABELS)


def _label(line: str) -> str | None:
    match = _QUOTE_FIELD.match(line)
    return match[1].lower() if match else None


def _signature_start(lines: list[str]) -> int:
    """The line "-- " before a signature (also "--": many clients and HTML drop the trailing space)."""
    return next((index for index, line in enumerate(lines) if line in _SIGNATURE_SEPARATORS), len(lines))


def _trailing_quote_start(lines: list[str]) -> int:
    """The first line of the run of "> " lines (blank lines allowed) that ends the text, or len(lines)."""
    start = len(lines)
    for index in range(len(lines) - 1, -1, -1):
        line = lines[index].strip()
        if line.startswith(">"):
            start = index
        elif line:
            break
    return start


def _decode(data: bytes, charset: str | None) -> str:
    """Text in its declared charset, else UTF-8, else the declared charset with the bytes it cannot
    decode replaced, else Latin-1, which maps every byte to a character and so loses nothing."""
    attempts = [(charset, "strict"), ("utf-8", "strict"), (charset, "replace")]
    for encoding, errors in attempts if charset else attempts[1:2]:
        try:
            return data.decode(encoding, errors)
        # Unknown or non-text codecs raise LookupError; a name with a NUL in it, ValueError.
        except (LookupError, ValueError):
            continue
    return data.decode("latin-1")


def _clean(text: str) -> str:
    """Text safe to store and compare: the bytes the parser could not decode decoded here, no NUL
    (PostgreSQL text cannot hold it), in NFC."""
    text = _ESCAPED_BYTES.sub(lambda run: _decode(run[0].encode("utf-8", "surrogateescape"), None), text)
    text = _LONE_SURROGATES.sub("\ufffd", text).replace("\x00", "")
    return unicodedata.normalize("NFC", text)


def _raw_values(message: Message, name: str) -> list[str]:
    """A header's values as received: the parser keeps them unparsed until they are asked for."""
    return [str(value) for key, value in message.raw_items() if key.lower() == name]


def _decoded_header(message: Message, name: str) -> str | None:
    """The first value of a header with its RFC 2047 words decoded."""
    return _clean(str(message[name])) if _raw_values(message, name) else None


def _decoded_words(value: str) -> str:
    """RFC 2047 words decoded by the older decoder, for display names the header parser did not find."""
    try:
        chunks = decode_header(value)
    except Exception:
        return value
    return "".join(chunk if isinstance(chunk, str) else _decode(chunk, charset) for chunk, charset in chunks)


def _addresses(message: Message, name: str) -> list[tuple[str, str]]:
    """(display name, addr-spec) of every address in every value of the header."""
    # Headers the registry does not know (Delivered-To) or could not parse have no addresses: read raw.
    pairs = [
        (address.display_name, address.addr_spec)
        for header in message.get_all(name, [])
        for address in getattr(header, "addresses", ())
    ]
    if not pairs:
        pairs = [
            (_decoded_words(display_name), addr_spec)
            for display_name, addr_spec in getaddresses(_raw_values(message, name))
        ]
    return [(_clean(display_name), _clean(addr_spec).lower()) for display_name, addr_spec in pairs]


def _sender(message: Message) -> tuple[str | None, str | None]:
    """The display name and address of From; an address written without <> is found in the raw value."""
    addresses = _addresses(message, "from")
    display_name, address = addresses[0] if addresses else ("", "")
    if not _PLAIN_ADDRESS.fullmatch(address):
        found = next((_PLAIN_ADDRESS.search(value) for value in _raw_values(message, "from")), None)
        address = _clean(found[0]).lower() if found else address
    # Without a domain only a bare word makes sense (MAILER-DAEMON); anything else is the parser's guess.
    plausible = _PLAIN_ADDRESS.fullmatch(address) or _LOCAL_PART.fullmatch(address)
    return display_name or None, address if plausible else None


def _recipients(message: Message) -> list[str]:
    found = (
        address for name in _RECIPIENT_HEADERS for _, address in _addresses(message, name) if "@" in address
    )
    return list(dict.fromkeys(found))


def _return_path(message: Message) -> str | None:
    values = _raw_values(message, "return-path")
    if not values:
        return None
    value = _clean(values[0]).strip()
    if not value.strip("<> \t\r\n"):
        return ""
    pairs = getaddresses([value])
    address = pairs[0][1] if pairs and pairs[0][1] else value.strip("<> ")
    return address.lower()


def _ids(message: Message, name: str) -> list[str]:
    return [message_id for value in _raw_values(message, name) for message_id in _parsed_ids(_clean(value))]


def _parsed_ids(value: str) -> list[str]:
    """Message ids without <>, in order; ids a client wrote without <> are taken word by word."""
    words = _ANGLED_IDS.findall(value) or value.replace(",", " ").split()
    return [message_id for word in words if (message_id := "".join(word.split()).strip("<>"))]


def _body(message: EmailMessage, subtype: str) -> Message | None:
    return message.get_body(preferencelist=(subtype,))


def _plain_parts(message: EmailMessage) -> list[Message]:
    """The plain body. Apple Mail splits a plain mail around each inline image into several text/plain
    parts of one multipart/mixed; all of them are the body."""
    body = _body(message, "plain")
    if body is None and message.get_content_maintype() == "multipart" and not message.is_multipart():
        # Without its boundary a multipart mail is one text to the parser: the customer's text is in it.
        return [message]
    if body is None:
        return []
    for container in message.walk():
        parts = container.get_payload() if container.get_content_type() == "multipart/mixed" else []
        if any(part is body for part in parts):
            return [
                part
                for part in parts
                if part is body or (part.get_content_type() == "text/plain" and not _is_file(part))
            ]
    return [body]


def _part_text(part: Message) -> str:
    """A text part's content: transfer encoding and charset decoded, LF line ends, no byte order mark."""
    data = part.get_payload(decode=True) or b""
    charset = part.get_content_charset()
    if charset is None and part.get_content_type() == "text/html":
        declared = _META_CHARSET.search(data[:4096])
        charset = declared[1].decode("ascii") if declared else None
    text = _decode(data, charset)
    return _clean(_LINE_ENDS.sub("\n", text)).removeprefix("\ufeff")


def _is_file(part: Message) -> bool:
    """A part to keep as a file: named, marked as an attachment, or neither text nor a container (an
    inline image with a Content-ID, or a document some program sent without a name)."""
    maintype = part.get_content_maintype()
    if maintype == "multipart":
        return False
    if part.get_content_disposition() == "attachment" or _filename(part):
        return True
    return maintype not in ("text", "message")


def _file_parts(message: Message, bodies: list[Message | None]) -> list[Message]:
    """The parts to keep as files, in the order of the message; an attached message is one file.

    Iterative, as a mail may nest parts deeper than Python recurses."""
    files = []
    pending = [message]
    while pending:
        part = pending.pop()
        if any(part is body for body in bodies):
            continue
        if _is_file(part):
            files.append(part)
        elif part.is_multipart():
            pending.extend(reversed(part.get_payload()))
    return files


def _attachment(part: Message, number: int) -> MailAttachment:
    content_type = part.get_content_type()
    content_ids = _raw_values(part, "content-id")
    content_id = _clean(content_ids[0]).strip().strip("<>").strip() if content_ids else ""
    return MailAttachment(
        filename=clean_filename(_filename(part), fallback=f"attachment-{number}{_extension(content_type)}"),
        content_type=content_type,
        data=_file_data(part),
        content_id=content_id or None,
        inline=bool(content_id) and part.get_content_disposition() != "attachment",
    )


def _filename(part: Message) -> str:
    """The declared name (RFC 2231 and RFC 2047 both decoded by the parser), or ""."""
    return _clean(part.get_filename() or "")


def _extension(content_type: str) -> str:
    if content_type in _EXTENSIONS:
        return _EXTENSIONS[content_type]
    return ".txt" if content_type.startswith("text/") else ".bin"


def _file_data(part: Message) -> bytes:
    if not part.is_multipart():
        return part.get_payload(decode=True) or b""
    try:
        return part.get_payload(0).as_bytes(policy=_AS_SENT)
    # An enclosed message the generator cannot write back is still a file: its text as parsed.
    except Exception:
        return str(part.get_payload(0)).encode("utf-8", "surrogateescape")


def _automatic(
    message: Message, subject: str, from_address: str | None, return_path: str | None
) -> str | None:
    """Why the mail is automatic (the rules of RFC 3834, and what mail systems and clients do)."""
    auto_submitted = _first_word(message, "auto-submitted")
    if auto_submitted is not None and auto_submitted != "no":
        return f"Auto-Submitted: {auto_submitted}" if auto_submitted else "Auto-Submitted"
    precedence = _first_word(message, "precedence")
    if precedence in _AUTOMATIC_PRECEDENCE:
        return f"Precedence: {precedence}"
    for name, phrase in (
        ("x-autoreply", "X-Autoreply"),
        ("x-autorespond", "X-Autorespond"),
        ("x-auto-response-suppress", "X-Auto-Response-Suppress"),
    ):
        if _raw_values(message, name):
            return phrase
    if return_path == "":
        return "empty return path"
    senders = [from_address, return_path, *(address for _, address in _addresses(message, "sender"))]
    for daemon in _DAEMONS:
        if any(sender and sender.partition("@")[0] == daemon for sender in senders):
            return f"sender {daemon}"
    if message.get_content_type() == "multipart/report":
        report_type = _report_type(message) or "unknown"
        return "delivery report" if report_type == "delivery-status" else f"report: {report_type}"
    vacation = _VACATION_SUBJECT.match(subject)
    if vacation is not None:
        return f'vacation subject "{vacation[0].strip()}"'
    return None


def _mailing_list(message: Message) -> str | None:
    """The list header (RFC 2369, RFC 2919) or precedence that says the mail came through a list."""
    if _first_word(message, "precedence") == "list":
        return "Precedence: list"
    for name, phrase in (("list-id", "List-Id"), ("list-unsubscribe", "List-Unsubscribe")):
        if _raw_values(message, name):
            return phrase
    return None


def _first_word(message: Message, name: str) -> str | None:
    """The first value of a header, lowercased, without parameters or comments; None when absent."""
    values = _raw_values(message, name)
    if not values:
        return None
    words = _clean(values[0]).split(";")[0].split("(")[0].split()
    return words[0].lower() if words else ""


def _report_type(message: Message) -> str:
    return collapse_rfc2231_value(message.get_param("report-type", "")).strip().lower()


def _delivery_report(
    message: Message, in_reply_to: list[str], references: list[str]
) -> DeliveryReport | None:
    """What a bounce says about the message that bounced (RFC 3464)."""
    if message.get_content_type() != "multipart/report":
        return None
    parts = list(message.iter_parts())
    statuses = [part for part in parts if part.get_content_type() in _DELIVERY_STATUS_TYPES]
    if _report_type(message) != "delivery-status" and not statuses:
        return None
    recipients = [
        fields
        for part in statuses
        for fields in _field_blocks(part)
        if "action" in fields or "status" in fields
    ]
    failed = (fields for fields in recipients if _action(fields) == "failed")
    chosen = next(failed, recipients[0] if recipients else {})
    action = _action(chosen)
    status_field = chosen.get("status", "")
    status_code = _STATUS_CODE.search(status_field)
    status = status_code[0] if status_code else status_field or None
    diagnostic = _DIAGNOSTIC_TYPE.sub("", chosen.get("diagnostic-code", "")) or None
    # Without the original, the bounce's own threading headers name it (the last reference is the newest).
    replied_to = in_reply_to[:1] or references[-1:]
    return DeliveryReport(
        original_message_id=_original_message_id(parts) or next(iter(replied_to), None),
        status=status,
        diagnostic=diagnostic,
        permanent=action == "failed" or (action != "delayed" and (status or "").startswith("5")),
    )


def _action(fields: dict[str, str]) -> str:
    words = fields.get("action", "").split()
    return words[0].lower() if words else ""


def _original_message_id(parts: list[Message]) -> str | None:
    for part in parts:
        if part.get_content_type() in _ORIGINAL_TYPES:
            blocks = _field_blocks(part)
            ids = _parsed_ids(blocks[0].get("message-id", "")) if blocks else []
            if ids:
                return ids[0]
    return None


def _field_blocks(part: Message) -> list[dict[str, str]]:
    """The blocks of "Name: value" fields of a report part, however the parser split it up: it parses
    message/delivery-status into blocks, other message/* types into one message, and leaves text alone."""
    payload = part.get_payload()
    if not isinstance(payload, list):
        return _text_field_blocks(_part_text(part))
    blocks = []
    for block in payload:
        blocks.append(_fields(block.raw_items()))
        rest = block.get_payload()
        if isinstance(rest, str):
            blocks.extend(_text_field_blocks(_clean(rest)))
    return [fields for fields in blocks if fields]


def _text_field_blocks(text: str) -> list[dict[str, str]]:
    chunks = re.split(r"\n[ \t]*\n", _LINE_ENDS.sub("\n", text))
    parser = HeaderParser(policy=_POLICY)
    blocks = (_fields(parser.parsestr(chunk.strip("\n")).raw_items()) for chunk in chunks)
    return [fields for fields in blocks if fields]


def _fields(items: Iterable[tuple[str, object]]) -> dict[str, str]:
    """Names lowercased, the first value of each, whitespace collapsed."""
    fields: dict[str, str] = {}
    for name, value in items:
        fields.setdefault(name.lower(), " ".join(_clean(str(value)).split()))
    return fields
