"""What a call record's comment says: the call in a few words, in the workspace's locale."""

from app.comments.schemas import CallRecord
from app.kit.normalization import display_phone
from app.kit.texts import duration, text
from app.models.enums import Locale


def call_summary(locale: Locale, call: CallRecord, note: str, phone_region: str) -> str:
    """`Cuộc gọi đến từ 0912 345 678, đã trả lời, 3 phút 5 giây`, when it started, the recording's link,
    then the agent's note. Numbers are written as people of `phone_region` write them."""
    customer = call.from_ if call.direction == "inbound" else call.to
    outcome = "answered" if call.answered else "missed"
    headline = text(
        locale, f"call.{call.direction}_{outcome}", number=display_phone(customer or "", phone_region)
    )
    if call.answered and call.duration_seconds is not None:
        headline += ", " + duration(locale, call.duration_seconds)
    started = call.started_at
    lines = [
        headline,
        text(locale, "call.started", time=f"{started:%H:%M}", day=text(locale, "day", value=started)),
    ]
    if call.recording_url is not None:
        lines.append(text(locale, "call.recording", url=call.recording_url))
    if note:
        lines.extend(["", note])
    return "\n".join(lines)
