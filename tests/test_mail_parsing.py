"""Mail as Gmail, Outlook and Apple Mail send it, in English and Vietnamese: the new part of a reply, the
charsets, the headers' encodings, the files, automatic mail and delivery reports."""

import unicodedata
from email.message import EmailMessage

from hypothesis import given, settings
from hypothesis import strategies as st

from app.channels.adapters.mail.parsing import (
    clean_subject,
    html_to_text,
    new_part,
    parse_mail,
    subject_ticket_number,
)
from tests.test_email_channel import windows_1258

HEADERS = (
    "From: Lan <lan@gmail.com>\r\nTo: cskh@shophoa.vn\r\nSubject: Hỏi\r\nMessage-ID: <m-1@gmail.com>\r\n"
)


def plain(body: str, **headers: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Nguyễn Thị Lan <Lan.Nguyen@Gmail.com>"
    message["To"] = "cskh@shophoa.vn"
    message["Subject"] = "Đơn hàng"
    message["Message-ID"] = "<m-1@mail.gmail.com>"
    for name, value in headers.items():
        message[name.replace("_", "-")] = value
    message.set_content(body)
    return message.as_bytes()


def test_a_vietnamese_gmail_reply_keeps_only_the_new_lines() -> None:
    raw = plain(
        "Dạ em cảm ơn shop.\nEm sẽ chờ thêm ạ.\n\n"
        "Vào Th 2, 1 thg 12, 2026 lúc 09:15 Shop Hoa <cskh@shophoa.vn> đã viết:\n"
        "> Đơn của chị sẽ tới trong hôm nay.\n> Shop Hoa\n",
        In_Reply_To="<reply-1@shophoa.vn>",
        References="<m-0@gmail.com> <reply-1@shophoa.vn>",
    )
    mail = parse_mail(raw)
    assert mail.text == "Dạ em cảm ơn shop.\nEm sẽ chờ thêm ạ."
    assert "Đơn của chị sẽ tới" in mail.full_text
    assert mail.in_reply_to == ["reply-1@shophoa.vn"]
    assert mail.references == ["m-0@gmail.com", "reply-1@shophoa.vn"]
    assert mail.from_address == "lan.nguyen@gmail.com" and mail.from_name == "Nguyễn Thị Lan"
    assert mail.message_id == "m-1@mail.gmail.com" and mail.automatic is None


def test_quote_headers_of_the_common_clients() -> None:
    assert (
        new_part("Thanks!\n\nOn Mon, Dec 1, 2026 at 9:15 AM Shop Hoa <cskh@shophoa.vn>\nwrote:\n> hi")
        == "Thanks!"
    )
    assert (
        new_part("Ok.\n\nOn 1 Dec 2026, at 09:15, Shop Hoa <cskh@shophoa.vn> wrote:\n\n> hi\n> there")
        == "Ok."
    )
    outlook = (
        "Được ạ.\n\nFrom: Shop Hoa <cskh@shophoa.vn>\nSent: Monday, December 1, 2026 9:15 AM\n"
        "To: Lan\nSubject: RE: Đơn"
    )
    assert new_part(outlook) == "Được ạ."
    vietnamese = (
        "Vâng.\n\nTừ: Shop Hoa <cskh@shophoa.vn>\nĐã gửi: Thứ Hai, 1 tháng 12, 2026\nĐến: Lan\nChủ đề: Đơn"
    )
    assert new_part(vietnamese) == "Vâng."
    assert new_part("Yes\n\n-----Original Message-----\nFrom: a") == "Yes"
    assert new_part("Chào shop\n-- \nLan, 0912 345 678") == "Chào shop"
    assert new_part("> chỉ có trích dẫn") == "> chỉ có trích dẫn", "never nothing when there was text"


def test_an_outlook_html_only_reply_is_read_as_text() -> None:
    message = EmailMessage()
    message["From"] = "binh@congty.vn"
    message["Subject"] = "RE: Báo giá"
    message.set_content(
        "<html><body><p>Em gửi lại báo giá ạ.</p><div><br></div>"
        "<div><b>From:</b> Shop Hoa &lt;cskh@shophoa.vn&gt;<br><b>Sent:</b> Monday<br><b>To:</b> Bình<br>"
        "<b>Subject:</b> Báo giá</div><p>nội dung cũ</p><script>x()</script></body></html>",
        subtype="html",
    )
    mail = parse_mail(message.as_bytes())
    assert mail.text == "Em gửi lại báo giá ạ."
    assert mail.html is not None and "nội dung cũ" in mail.full_text
    assert "x()" not in html_to_text(mail.html)


def test_windows_1258_and_unknown_charsets_are_read() -> None:
    text = "Tôi muốn đổi hàng, đơn số 1024 bị lỗi."
    raw = (HEADERS + "Content-Type: text/plain; charset=windows-1258\r\n\r\n").encode() + windows_1258(text)
    mail = parse_mail(raw)
    assert mail.text == text and unicodedata.is_normalized("NFC", mail.text)
    unknown = (
        HEADERS + "Content-Type: text/plain; charset=x-unknown-vn\r\n\r\n"
    ).encode() + b"Xin ch\xe0o \xff"
    assert parse_mail(unknown).text.startswith("Xin ch")


def test_encoded_subjects_and_file_names() -> None:
    raw = (
        "From: b@example.vn\r\nSubject: =?UTF-8?B?xJDhu5VpIGjDoG5n?= =?windows-1258?Q?g=E2p?=\r\n"
        'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="x"\r\n\r\n'
        "--x\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nXem tệp đính kèm\r\n"
        "--x\r\nContent-Type: application/pdf\r\n"
        "Content-Disposition: attachment; filename*=utf-8''h%C3%B3a%20%C4%91%C6%A1n.pdf\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\nJVBERi0xLjQ=\r\n"
        "--x\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; "
        'filename="=?UTF-8?B?YmnDqm4gYuG6o24udHh0?="\r\n\r\nabc\r\n'
        "--x\r\nContent-Type: image/png\r\nContent-ID: <logo@shop>\r\nContent-Disposition: inline\r\n"
        "Content-Transfer-Encoding: base64\r\n\r\niVBORw0KGgo=\r\n"
        "--x\r\nContent-Type: text/plain\r\n"
        'Content-Disposition: attachment; filename="../../etc/passwd"\r\n\r\nx\r\n'
        "--x--\r\n"
    ).encode()
    mail = parse_mail(raw)
    assert mail.subject.startswith("Đổi hàng")
    names = [item.filename for item in mail.attachments]
    assert names[:2] == ["hóa đơn.pdf", "biên bản.txt"]
    assert mail.attachments[0].data == b"%PDF-1.4"
    logo = mail.attachments[2]
    assert logo.inline and logo.content_id == "logo@shop" and logo.data.startswith(b"\x89PNG")
    assert "/" not in names[3] and "\\" not in names[3]
    assert mail.text == "Xem tệp đính kèm"


def test_automatic_mail_is_recognised() -> None:
    assert parse_mail(plain("x", Auto_Submitted="auto-replied")).automatic == "Auto-Submitted: auto-replied"
    assert parse_mail(plain("x", Auto_Submitted="no")).automatic is None
    assert parse_mail(plain("x", Precedence="bulk")).automatic == "Precedence: bulk"
    assert parse_mail(plain("x", Precedence="auto_reply")).automatic
    assert parse_mail(plain("x", X_Autoreply="yes")).automatic
    assert parse_mail(plain("x", X_Autorespond="Vắng mặt")).automatic == "X-Autorespond"
    assert parse_mail(plain("x", X_Auto_Response_Suppress="All")).automatic == "X-Auto-Response-Suppress"
    assert parse_mail(plain("x", Return_Path="<>")).automatic
    daemon = plain("x").replace(b"Lan.Nguyen@Gmail.com", b"MAILER-DAEMON@gmail.com")
    assert parse_mail(daemon).automatic
    assert parse_mail(plain("Chào shop")).automatic is None


def test_list_mail_is_told_apart_from_automatic_mail() -> None:
    """A person may write through a list: whether it counts as automatic is the threading's to say."""
    for headers, reason in (
        ({"List_Id": "<tin-tuc.shop>"}, "List-Id"),
        ({"List_Unsubscribe": "<mailto:huy@tin-tuc.shop>"}, "List-Unsubscribe"),
        ({"Precedence": "list"}, "Precedence: list"),
    ):
        mail = parse_mail(plain("Khuyến mãi tháng 12", **headers))
        assert (mail.mailing_list, mail.automatic) == (reason, None), headers
    bulk = parse_mail(plain("x", Precedence="bulk", List_Id="<tin-tuc.shop>"))
    assert (bulk.automatic, bulk.mailing_list) == ("Precedence: bulk", "List-Id")
    assert parse_mail(plain("Chào shop")).mailing_list is None


def with_subject(subject: str) -> bytes:
    message = EmailMessage()
    message["From"] = "Anh Nam <nam@congty.vn>"
    message["To"] = "cskh@shophoa.vn"
    message["Subject"] = subject
    message.set_content("Tôi đang nghỉ phép đến hết ngày 20/12.")
    return message.as_bytes()


def test_vacation_subjects_of_known_mailers_are_automatic() -> None:
    for subject in (
        "Automatic reply: Đơn hàng #1024",
        "Trả lời tự động: [#1024] Đơn hàng giao chậm",
        "Trả lời Tự động: Đơn hàng",
        "Out of Office: Đơn hàng",
        "Out of Office AutoReply: Đơn hàng",
        "Out of office reply",
        "Out of Office",
        "Autoreply: Đơn hàng",
        "Auto-Reply: Đơn hàng",
        "Automatische Antwort: Bestellung",
        "Réponse automatique : Commande",
        "自动回复: 订单",
        "AUTO: Nguyen Van Nam is out of the office (returning 20/12/2026)",
    ):
        reason = parse_mail(with_subject(subject)).automatic
        assert reason is not None and reason.startswith('vacation subject "'), subject
    outlook = parse_mail(with_subject("Automatic reply: Đơn hàng")).automatic
    assert outlook == 'vacation subject "Automatic reply:"'
    for subject in (
        "Re: Automatic reply settings on my phone",
        "Đơn hàng tự động gia hạn",
        "Auto: bảo hiểm xe máy",
        "Hỏi về chế độ trả lời tự động",
    ):
        assert parse_mail(with_subject(subject)).automatic is None, subject


def test_delivery_reports_name_the_mail_that_bounced() -> None:
    def report(action: str, status: str) -> bytes:
        return (
            "From: mailer-daemon@gmail.com\r\nSubject: Undeliverable\r\nMIME-Version: 1.0\r\n"
            'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
            "--b\r\nContent-Type: text/plain\r\n\r\nNot delivered.\r\n"
            "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; gmail.com\r\n\r\n"
            f"Final-Recipient: rfc822; lan@gmail.com\r\nAction: {action}\r\nStatus: {status}\r\n"
            "Diagnostic-Code: smtp; 550 5.1.1 user unknown\r\n\r\n"
            "--b\r\nContent-Type: text/rfc822-headers\r\n\r\n"
            "Message-ID: <reply-1@shophoa.vn>\r\n\r\n--b--\r\n"
        ).encode()

    failed = parse_mail(report("failed", "5.1.1")).delivery_report
    assert failed is not None and failed.original_message_id == "reply-1@shophoa.vn"
    assert failed.permanent and failed.status == "5.1.1" and "user unknown" in (failed.diagnostic or "")
    delayed = parse_mail(report("delayed", "4.4.1")).delivery_report
    assert delayed is not None and not delayed.permanent
    assert parse_mail(plain("x")).delivery_report is None


def test_subject_tokens_and_prefixes() -> None:
    assert subject_ticket_number("Re: TL: [#123] Giao hàng chậm") == 123
    assert clean_subject("Re: TL: [#123] Giao hàng chậm") == "Giao hàng chậm"
    assert clean_subject("FW: Trả lời: RE:  Báo   giá") == "Báo giá"
    assert subject_ticket_number("Đơn hàng #1024") is None


def test_a_bare_mail_gives_empty_values() -> None:
    mail = parse_mail(b"From: a@b.vn\r\n\r\n")
    assert mail.message_id is None and mail.subject == "" and mail.text == "" and mail.attachments == []


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_parse_without_error(raw: bytes) -> None:
    parse_mail(raw)


@settings(max_examples=100, deadline=None)
@given(
    st.text(max_size=300), st.sampled_from(["utf-8", "windows-1258", "latin-1", "x-unknown", "utf-16", ""])
)
def test_any_text_in_any_declared_charset_parses(body: str, charset: str) -> None:
    declared = f"; charset={charset}" if charset else ""
    raw = (HEADERS + f"Content-Type: text/plain{declared}\r\n\r\n").encode() + body.encode("utf-8", "replace")
    assert isinstance(parse_mail(raw).text, str)
