"""The texts the service writes itself (notes, summaries, subjects), in each workspace's locale.

One catalogue, each text in every locale side by side, so that none is added in one locale only.
A text names its values in braces (`{number}`), filled in by `text`.
"""

from typing import Any

LOCALES = ("vi", "en")

# key: (Vietnamese, English)
_CATALOGUE: dict[str, tuple[str, str]] = {
    # The link to a contact's tickets, sent by email.
    "portal_access_subject": ("Các yêu cầu hỗ trợ của bạn tại {workspace}", "Your requests at {workspace}"),
    "portal_access_body": (
        "Xin chào {name},\n\nMở liên kết sau để xem các yêu cầu hỗ trợ của bạn tại {workspace}:\n{url}\n\n"
        "Liên kết chỉ dùng được một lần, trong {minutes} phút. Nếu bạn không yêu cầu, hãy bỏ qua thư này.",
        "Hello {name},\n\nOpen this link to see your requests at {workspace}:\n{url}\n\n"
        "The link works once, within {minutes} minutes. If you did not ask for it, ignore this email.",
    ),
    # What a public reply sent by email ends with: the ticket's page.
    "customer_link_footer": ("Xem và trả lời yêu cầu của bạn: {url}", "See and answer your request: {url}"),
    # A ticket made from another.
    "sub_ticket_note": ("Phiếu con của #{number}: {subject}", "Sub-ticket of #{number}: {subject}"),
    # A message on a channel.
    "no_text": ("(không có nội dung)", "(no text)"),
    "postback": ("(bấm nút)", "(postback)"),
    "content_from_channel": ("{what} từ {channel}", "{what} from {channel}"),
    "content_line": ("[{what}] {detail}", "[{what}] {detail}"),
    "file_not_downloaded": (
        "[{what} không tải được ({reason}): {url}]",
        "[{what} not downloaded ({reason}): {url}]",
    ),
    "file_over_limits": (
        "[{what} không được giữ, vượt quá giới hạn: {url}]",
        "[{what} not kept, over the limits: {url}]",
    ),
    "attachment_over_limits": (
        "[Tệp đính kèm không được giữ, vượt quá giới hạn: {filename}]",
        "[attachment not kept, over the limits: {filename}]",
    ),
    "upload_not_kept": (
        "[Tệp tải lên không được giữ, đã đính kèm nơi khác hoặc đã hết hạn: {token}]",
        "[upload not kept, attached elsewhere or expired: {token}]",
    ),
    # What a message carries besides text, by the providers' names for it.
    "content.image": ("Hình ảnh", "Image"),
    "content.gif": ("Ảnh GIF", "GIF"),
    "content.video": ("Video", "Video"),
    "content.audio": ("Âm thanh", "Audio"),
    "content.file": ("Tệp", "File"),
    "content.sticker": ("Nhãn dán", "Sticker"),
    "content.location": ("Vị trí", "Location"),
    "content.link": ("Liên kết", "Link"),
    "content.recording": ("Ghi âm cuộc gọi", "Call recording"),
    "content.message": ("Tin nhắn", "Message"),
    # The kinds of channel, as customers know them.
    "channel.chat": ("Chat", "Chat"),
    "channel.api": ("API", "API"),
    "channel.messenger": ("Messenger", "Messenger"),
    "channel.zalo": ("Zalo", "Zalo"),
    "channel.email": ("Email", "Email"),
    # A call record.
    "call.inbound_answered": ("Cuộc gọi đến từ {number}, đã trả lời", "Inbound call from {number}, answered"),
    "call.inbound_missed": ("Cuộc gọi nhỡ từ {number}", "Missed call from {number}"),
    "call.outbound_answered": ("Cuộc gọi đi tới {number}, đã trả lời", "Outbound call to {number}, answered"),
    "call.outbound_missed": (
        "Cuộc gọi đi tới {number}, không trả lời",
        "Outbound call to {number}, not answered",
    ),
    "call.started": ("Bắt đầu lúc {time} ngày {day}", "Started at {time} on {day}"),
    "call.recording": ("Ghi âm: {url}", "Recording: {url}"),
    "duration.hours": ("{hours} giờ {minutes} phút {seconds} giây", "{hours} h {minutes} min {seconds} s"),
    "duration.minutes": ("{minutes} phút {seconds} giây", "{minutes} min {seconds} s"),
    "duration.seconds": ("{seconds} giây", "{seconds} s"),
    "day": ("{value:%d/%m/%Y}", "{value:%Y-%m-%d}"),
    # The built-in ticket views of a workspace.
    "view.mine": ("Phiếu của tôi", "My tickets"),
    "view.unassigned": ("Phiếu chưa phân công", "Unassigned tickets"),
    "view.my_groups": ("Phiếu của nhóm tôi", "My groups' tickets"),
    "view.all_open": ("Tất cả phiếu chưa giải quyết", "All unresolved tickets"),
    "view.recently_solved": ("Đã giải quyết trong 7 ngày", "Solved in the last 7 days"),
    "view.sla_breached": ("Quá hạn SLA", "SLA breached"),
    # An agent's notification, by its kind.
    "notification.mentioned": (
        "Bạn được nhắc đến trong ghi chú nội bộ của phiếu #{number}: {subject}",
        "You were mentioned in an internal note on #{number}: {subject}",
    ),
    "notification.assigned": (
        "Bạn được giao phiếu #{number}: {subject}",
        "You were assigned #{number}: {subject}",
    ),
    "notification.sla_breached": (
        "Phiếu #{number} đã quá hạn xử lý: {subject}",
        "#{number} is past its due time: {subject}",
    ),
    "notification.sla_warning": (
        "Phiếu #{number} sắp đến hạn xử lý: {subject}",
        "#{number} nears its due time: {subject}",
    ),
    "notification.customer_replied": (
        "Khách hàng đã trả lời phiếu #{number}: {subject}",
        "The customer replied on #{number}: {subject}",
    ),
    "notification.category_opened": (
        "Phiếu mới #{number} trong danh mục bạn theo dõi: {subject}",
        "New ticket #{number} in a category you watch: {subject}",
    ),
    "notification.category_closed": (
        "Phiếu #{number} trong danh mục bạn theo dõi đã đóng: {subject}",
        "#{number}, in a category you watch, was closed: {subject}",
    ),
}


def text(locale: str, key: str, **values: Any) -> str:
    """The text in the locale (`vi` or `en`), with its values filled in."""
    return _CATALOGUE[key][LOCALES.index(locale)].format(**values)


def content_name(locale: str, kind: str) -> str | None:
    """What a provider's kind of content (image, sticker…) is called in the locale; None for a kind
    the catalogue does not know."""
    key = f"content.{kind}"
    return text(locale, key) if key in _CATALOGUE else None


def duration(locale: str, seconds: int) -> str:
    """`3 phút 5 giây`, `3 min 5 s`; hours only from an hour on, minutes only from a minute on."""
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return text(locale, "duration.hours", hours=hours, minutes=minutes, seconds=seconds)
    if minutes:
        return text(locale, "duration.minutes", minutes=minutes, seconds=seconds)
    return text(locale, "duration.seconds", seconds=seconds)
