"""The words of the customer pages, in each language side by side (as app/kit/texts.py keeps the
service's own), so that none is added in one language only."""

from datetime import datetime
from typing import Any

from app.kit.texts import LOCALES

# key: (Vietnamese, English)
_CATALOGUE: dict[str, tuple[str, str]] = {
    "skip_to_content": ("Chuyển đến nội dung chính", "Skip to main content"),
    "ticket_title": ("Phiếu #{number}: {subject}", "Ticket #{number}: {subject}"),
    "status": ("Trạng thái", "Status"),
    "status.new": ("Mới", "New"),
    "status.open": ("Đang xử lý", "Open"),
    "status.pending": ("Chờ phản hồi của bạn", "Waiting for your reply"),
    "status.on_hold": ("Đang tạm dừng", "On hold"),
    "status.solved": ("Đã giải quyết", "Solved"),
    "status.closed": ("Đã đóng", "Closed"),
    "opened_on": ("Ngày tạo", "Opened"),
    "conversation": ("Trao đổi", "Conversation"),
    "no_messages": ("Chưa có trao đổi nào.", "No messages yet."),
    "you": ("Bạn", "You"),
    "support": ("Bộ phận hỗ trợ", "Support"),
    "wrote_at": ("lúc {time}", "at {time}"),
    "attachments": ("Tệp đính kèm", "Attachments"),
    "file_size": ("{size} KB", "{size} KB"),
    "reply_heading": ("Gửi trả lời", "Reply"),
    "reply_body": ("Nội dung", "Your message"),
    "reply_files": ("Đính kèm tệp (không bắt buộc)", "Attach files (optional)"),
    "reply_files_hint": (
        "Tối đa {count} tệp, mỗi tệp không quá {megabytes} MB.",
        "Up to {count} files, {megabytes} MB each at most.",
    ),
    "reply_send": ("Gửi trả lời", "Send reply"),
    "reply_on_closed": (
        "Phiếu này đã đóng: trả lời của bạn sẽ mở một phiếu mới tiếp nối.",
        "This ticket is closed: your reply opens a new follow-up ticket.",
    ),
    "solve_heading": ("Vấn đề đã được giải quyết?", "Is your issue solved?"),
    "solve_send": ("Đánh dấu là đã giải quyết", "Mark as solved"),
    "rating_heading": ("Đánh giá hỗ trợ", "Rate our support"),
    "rating_question": ("Bạn hài lòng đến mức nào?", "How satisfied are you?"),
    "rating.1": ("Rất không hài lòng", "Very dissatisfied"),
    "rating.2": ("Không hài lòng", "Dissatisfied"),
    "rating.3": ("Bình thường", "Neutral"),
    "rating.4": ("Hài lòng", "Satisfied"),
    "rating.5": ("Rất hài lòng", "Very satisfied"),
    "rating_comment": ("Góp ý (không bắt buộc)", "Comment (optional)"),
    "rating_send": ("Gửi đánh giá", "Send rating"),
    "rating_change": ("Cập nhật đánh giá", "Update rating"),
    "rating_given": ("Bạn đã đánh giá {score}/5.", "You rated {score}/5."),
    "rating_given_good": ("Bạn đã đánh giá: hài lòng.", "You rated it good."),
    "rating_given_bad": ("Bạn đã đánh giá: chưa hài lòng.", "You rated it bad."),
    "rating_after_solved": (
        "Bạn có thể đánh giá khi phiếu đã được giải quyết.",
        "You can rate once the ticket is solved.",
    ),
    "done.replied": ("Đã gửi trả lời của bạn.", "Your reply was sent."),
    "done.solved": ("Phiếu đã được đánh dấu là đã giải quyết.", "The ticket is marked as solved."),
    "done.rated": ("Cảm ơn bạn đã đánh giá.", "Thank you for your rating."),
    "done.follow_up": (
        "Phiếu cũ đã đóng, nên trả lời của bạn đã mở phiếu mới này.",
        "The old ticket was closed, so your reply opened this new one.",
    ),
    "my_title": ("Phiếu hỗ trợ của bạn", "Your support tickets"),
    "my_empty": ("Bạn chưa có phiếu hỗ trợ nào.", "You have no support tickets."),
    "my_updated": ("Cập nhật", "Updated"),
    "my_access_intro": (
        "Liên kết trong email chỉ dùng được một lần: nhấn nút dưới đây để xem các phiếu hỗ trợ của bạn.",
        "The link in the email works once: press the button below to see your support tickets.",
    ),
    "my_access_send": ("Xem phiếu của tôi", "Show my tickets"),
    "my_open_ticket": ("Mở phiếu #{number}", "Open ticket #{number}"),
    "next_page": ("Trang sau", "Next page"),
    "error.not_found": ("Không tìm thấy trang", "Page not found"),
    "error.not_found_detail": (
        "Liên kết không đúng, đã hết hạn hoặc đã bị thu hồi. Hãy dùng liên kết mới nhất bạn nhận được.",
        "The link is wrong, has expired or was revoked. Use the latest link you received.",
    ),
    "error.form": ("Không gửi được biểu mẫu", "The form could not be sent"),
    "error.form_expired": (
        "Biểu mẫu đã hết hạn hoặc không đến từ trang này. Hãy tải lại trang rồi gửi lại.",
        "The form has expired or did not come from this page. Reload the page and send it again.",
    ),
    "error.rate_limited": (
        "Bạn đã gửi quá nhiều yêu cầu. Hãy thử lại sau {seconds} giây.",
        "Too many requests. Try again in {seconds} seconds.",
    ),
    "error.form_detail": (
        "Hãy kiểm tra lại nội dung bạn đã nhập rồi gửi lại.",
        "Check what you entered and send it again.",
    ),
    "error.form_incomplete": (
        "Biểu mẫu còn thiếu thông tin. Hãy điền đầy đủ rồi gửi lại.",
        "Something is missing from the form. Fill it in and send it again.",
    ),
    "error.payload_too_large": (
        "Tệp đính kèm quá lớn. Hãy gửi tệp nhỏ hơn.",
        "The attached files are too large. Send smaller files.",
    ),
    "error.ticket_resolved": (
        "Phiếu này đã được giải quyết hoặc đã đóng.",
        "This ticket is already solved or closed.",
    ),
    "error.rating_locked": (
        "Đánh giá này không thể thay đổi nữa.",
        "This rating can no longer be changed.",
    ),
    "error.ticket_not_solved": (
        "Bạn có thể đánh giá khi phiếu đã được giải quyết.",
        "You can rate once the ticket is solved.",
    ),
    "back": ("Quay lại phiếu", "Back to the ticket"),
    "datetime": ("{value:%H:%M ngày %d/%m/%Y}", "{value:%Y-%m-%d %H:%M}"),
}


def page_text(locale: str, key: str, **values: Any) -> str:
    """The text in the locale (`vi` or `en`), with its values filled in."""
    return _CATALOGUE[key][LOCALES.index(locale)].format(**values)


def has_text(key: str) -> bool:
    return key in _CATALOGUE


def moment(locale: str, value: datetime) -> str:
    """A moment as people of the language write it, to the minute, in UTC."""
    return page_text(locale, "datetime", value=value)
