"""The words demo data is made of: Vietnamese and English names, subjects, descriptions and replies.

Topics carry their own subjects, group, category, tags and custom fields. Only the `giao_hang` topic's
subjects contain "giao hàng" (the loader gives it about a fifth of the tickets), so that searching for
that phrase has a known share of hits; `RARE_PHRASES` appear in a handful of subjects.
"""

from dataclasses import dataclass

FAMILY_NAMES = [
    ("Nguyễn", 38), ("Trần", 11), ("Lê", 9), ("Phạm", 7), ("Hoàng", 4), ("Huỳnh", 4), ("Phan", 4),
    ("Vũ", 3), ("Võ", 3), ("Đặng", 2), ("Bùi", 2), ("Đỗ", 2), ("Hồ", 2), ("Ngô", 2), ("Dương", 1),
    ("Lý", 1), ("Trương", 1), ("Đinh", 1), ("Lâm", 1), ("Mai", 1),
]  # fmt: skip
MIDDLE_NAMES_FEMALE = ["Thị", "Thị", "Thị", "Ngọc", "Thu", "Thanh", "Minh", "Kim", "Bảo", "Phương", "Mỹ"]
MIDDLE_NAMES_MALE = ["Văn", "Văn", "Hữu", "Đức", "Minh", "Quốc", "Thanh", "Công", "Gia", "Xuân", "Tuấn"]
GIVEN_NAMES_FEMALE = [
    "Hương", "Lan", "Linh", "Trang", "Hà", "Mai", "Ngọc", "Thảo", "Hằng", "Yến", "Nhung", "Hoa", "Vy",
    "Anh", "Trâm", "Quyên", "Oanh", "Duyên", "Giang", "Hạnh", "Loan", "Phương", "Thủy", "Uyên",
]  # fmt: skip
GIVEN_NAMES_MALE = [
    "An", "Bình", "Cường", "Dũng", "Đạt", "Hải", "Hiếu", "Hùng", "Huy", "Khang", "Khoa", "Long", "Minh",
    "Nam", "Phúc", "Quân", "Sơn", "Tâm", "Thắng", "Thành", "Toàn", "Trung", "Tú", "Việt", "Vinh",
]  # fmt: skip
ENGLISH_FIRST_NAMES = [
    "John",
    "Emily",
    "Michael",
    "Sarah",
    "David",
    "Laura",
    "James",
    "Anna",
    "Daniel",
    "Kate",
]
ENGLISH_LAST_NAMES = ["Smith", "Johnson", "Brown", "Taylor", "Wilson", "Miller", "Clark", "Walker", "Hall"]
FREE_MAIL_DOMAINS = [
    ("gmail.com", 62),
    ("yahoo.com", 12),
    ("outlook.com", 8),
    ("hotmail.com", 6),
    ("icloud.com", 4),
]
# Vietnamese mobile prefixes (after +84): Viettel, Vinaphone, MobiFone, Vietnamobile.
MOBILE_PREFIXES = [
    "32", "33", "34", "35", "36", "37", "38", "39", "86", "96", "97", "98",
    "81", "82", "83", "84", "85", "88", "91", "94",
    "70", "76", "77", "78", "79", "90", "93", "56", "58",
]  # fmt: skip

BUSINESSES = [
    "Cửa hàng Minh Phát", "Shop Mẹ và Bé Hoa Sen", "Điện máy Sao Việt", "Nhà thuốc An Khang Việt",
    "Thời trang Lụa Hà Đông", "Siêu thị Bách Hóa Xanh Tươi", "Sách Phương Nam Online", "Mỹ phẩm Thiên Nhiên",
    "Du lịch Biển Xanh", "Nội thất Gỗ Việt",
]  # fmt: skip
ORGANIZATIONS = [
    ("Công ty TNHH Thương mại Ánh Dương", "anhduong.vn"),
    ("Công ty CP Logistics Sao Mai", "saomai-logistics.vn"),
    ("Công ty TNHH Phần mềm Lạc Hồng", "lachong.com.vn"),
    ("Tập đoàn Bình Minh", "binhminhgroup.vn"),
    ("Khách sạn Hoàng Gia Đà Nẵng", "hoanggiahotel.vn"),
    ("Trường Quốc tế Hà Nội", "hanoi-is.edu.vn"),
    ("Acme Trading Pte. Ltd.", "acme-trading.sg"),
    ("Northwind Vietnam", "northwind.vn"),
]
GROUPS = [
    ("Chăm sóc khách hàng", "Tiếp nhận mọi yêu cầu chung"),
    ("Vận chuyển", "Giao nhận, đơn vị vận chuyển, địa chỉ"),
    ("Thanh toán", "Thanh toán, hoàn tiền, hóa đơn"),
    ("Đổi trả - Bảo hành", "Đổi trả sản phẩm và bảo hành"),
    ("Kỹ thuật", "Tài khoản, ứng dụng, website"),
]
# (name, parent name or None)
CATEGORIES = [
    ("Đơn hàng", None), ("Giao hàng", "Đơn hàng"), ("Đổi trả", "Đơn hàng"), ("Hoàn tiền", "Đơn hàng"),
    ("Thanh toán", None), ("Hóa đơn VAT", "Thanh toán"), ("Thẻ và ví điện tử", "Thanh toán"),
    ("Tài khoản", None), ("Bảo hành", None), ("Khuyến mãi", None), ("Khác", None),
]  # fmt: skip
REGIONS = [("mien-bac", "Miền Bắc"), ("mien-trung", "Miền Trung"), ("mien-nam", "Miền Nam")]
AGENT_NAMES = [
    "Nguyễn Thị Hương", "Trần Văn Nam", "Lê Minh Châu", "Phạm Quốc Bảo", "Hoàng Thu Trang", "Đặng Thị Hương",
    "Vũ Đức Anh", "Bùi Ngọc Lan", "Đỗ Thanh Tùng", "Hồ Thị Mai", "Ngô Gia Huy", "Dương Minh Khoa",
    "Lý Thảo Vy", "Trương Công Sơn", "Phan Thị Yến", "Võ Hoàng Long", "Huỳnh Kim Ngân", "Mai Xuân Trường",
    "Lâm Bảo Ngọc", "Đinh Văn Hải",
]  # fmt: skip


@dataclass(frozen=True)
class Topic:
    key: str
    weight: int  # in a thousand tickets
    group: str
    category: str
    tags: tuple[str, ...]
    subjects: tuple[str, ...]
    descriptions: tuple[str, ...]
    order: bool  # whether tickets of this topic usually carry an order id
    amount: bool  # … an amount
    delivery: bool  # … a delivery region and a promised date


TOPICS = [
    Topic(
        "giao_hang",
        200,
        "Vận chuyển",
        "Giao hàng",
        ("giao-hang",),
        (
            "Giao hàng chậm, khách hỏi tình trạng đơn",
            "Chưa nhận được hàng, giao hàng trễ 5 ngày",
            "Shipper giao hàng sai địa chỉ",
            "Yêu cầu đổi địa chỉ giao hàng",
            "Giao hàng thiếu sản phẩm trong đơn",
            "Hỏi phí giao hàng nhanh nội thành",
            "Giao hàng thất bại, shipper không gọi trước",
            "Hẹn lại thời gian giao hàng",
        ),
        (
            "Chào shop,\nTôi đặt đơn từ thứ hai mà đến giờ vẫn chưa nhận được hàng.\nNhờ shop kiểm tra giúp.",
            "Shipper báo đã giao nhưng tôi chưa nhận được gì.\nĐịa chỉ: 12 Nguyễn Trãi, Thanh Xuân, Hà Nội.",
            "Khách gọi tổng đài hỏi khi nào đơn được giao.\nĐã hẹn giao hàng buổi chiều nhưng chưa thấy.",
            "Tôi cần đổi địa chỉ nhận hàng sang công ty.\nCảm ơn shop!",
        ),
        True,
        False,
        True,
    ),
    Topic(
        "hoan_tien",
        110,
        "Thanh toán",
        "Hoàn tiền",
        ("hoan-tien",),
        (
            "Yêu cầu hoàn tiền đơn hàng đã hủy",
            "Chưa nhận được tiền hoàn sau 7 ngày",
            "Hoàn tiền sai số tiền",
            "Hỏi thời gian hoàn tiền về thẻ",
        ),
        (
            "Tôi đã hủy đơn nhưng chưa thấy tiền hoàn về tài khoản.\nMã giao dịch trong ảnh đính kèm.",
            "Shop hoàn thiếu cho tôi 50.000đ.\nNhờ kiểm tra lại giúp.",
            "Đơn bị hủy do hết hàng, khách muốn được hoàn tiền sớm.",
        ),
        True,
        True,
        False,
    ),
    Topic(
        "doi_tra",
        100,
        "Đổi trả - Bảo hành",
        "Đổi trả",
        ("doi-tra",),
        (
            "Đổi trả sản phẩm bị lỗi",
            "Muốn đổi size áo",
            "Sản phẩm không đúng mô tả, yêu cầu trả hàng",
            "Hàng bị móp méo khi nhận, muốn đổi",
        ),
        (
            "Áo bị rách đường may ở tay.\nTôi muốn đổi sang chiếc khác cùng mẫu.",
            "Sản phẩm nhận được khác màu so với hình.\nXin hướng dẫn thủ tục trả hàng.",
            "Hộp bị móp, máy không lên nguồn.\nKhách yêu cầu đổi máy mới.",
        ),
        True,
        False,
        False,
    ),
    Topic(
        "bao_hanh",
        70,
        "Đổi trả - Bảo hành",
        "Bảo hành",
        ("bao-hanh",),
        (
            "Yêu cầu bảo hành máy lọc nước",
            "Hỏi chính sách bảo hành điện thoại",
            "Máy hỏng sau 2 tháng sử dụng",
            "Tra cứu phiếu bảo hành",
        ),
        (
            "Máy lọc nước báo lỗi E3.\nTôi mua được 3 tháng, còn trong thời gian bảo hành.",
            "Điện thoại tự tắt nguồn liên tục.\nNhờ trung tâm bảo hành hỗ trợ.",
        ),
        True,
        False,
        False,
    ),
    Topic(
        "thanh_toan",
        110,
        "Thanh toán",
        "Thẻ và ví điện tử",
        ("thanh-toan",),
        (
            "Thanh toán qua thẻ bị trừ tiền hai lần",
            "Không thanh toán được bằng ví MoMo",
            "Lỗi thanh toán VNPay",
            "Đã chuyển khoản nhưng đơn vẫn chờ thanh toán",
        ),
        (
            "Tài khoản của tôi bị trừ tiền 2 lần cho cùng một đơn.\nMong shop kiểm tra và hoàn lại.",
            "Thanh toán bằng ví báo lỗi hết thời gian.\nTôi đã thử 3 lần.",
        ),
        True,
        True,
        False,
    ),
    Topic(
        "hoa_don",
        50,
        "Thanh toán",
        "Hóa đơn VAT",
        ("hoa-don",),
        (
            "Yêu cầu xuất hóa đơn VAT",
            "Sai thông tin mã số thuế trên hóa đơn",
            "Chưa nhận được hóa đơn điện tử",
        ),
        (
            "Công ty tôi cần xuất hóa đơn VAT cho đơn này.\nMã số thuế: 0312345678.",
            "Hóa đơn ghi sai tên công ty, nhờ xuất lại.",
        ),
        True,
        True,
        False,
    ),
    Topic(
        "tai_khoan",
        90,
        "Kỹ thuật",
        "Tài khoản",
        ("tai-khoan",),
        (
            "Không đăng nhập được ứng dụng",
            "Quên mật khẩu, không nhận được mã OTP",
            "Yêu cầu xóa tài khoản",
            "Đổi số điện thoại đăng nhập tài khoản",
        ),
        (
            "Tôi không nhận được mã OTP qua SMS.\nĐã thử nhiều lần từ sáng.",
            "Ứng dụng báo sai mật khẩu dù tôi nhập đúng.\nNhờ hỗ trợ gấp.",
        ),
        False,
        False,
        False,
    ),
    Topic(
        "khuyen_mai",
        60,
        "Chăm sóc khách hàng",
        "Khuyến mãi",
        ("khuyen-mai",),
        (
            "Hỏi về chương trình khuyến mãi",
            "Mã giảm giá không áp dụng được",
            "Chưa được cộng điểm thưởng",
        ),
        (
            "Mã giảm giá 50K báo không hợp lệ dù còn hạn.\nNhờ shop kiểm tra.",
            "Cho tôi hỏi chương trình khuyến mãi cuối tuần áp dụng cho sản phẩm nào?",
        ),
        False,
        False,
        False,
    ),
    Topic(
        "en_delivery",
        80,
        "Vận chuyển",
        "Giao hàng",
        ("delivery",),
        (
            "Where is my order?",
            "Package marked as delivered but not received",
            "Late delivery, need an update",
            "Change the delivery address",
        ),
        (
            "Hi,\nMy order still has not arrived after a week.\nCould you check the tracking for me?",
            "The courier says it was delivered, but nothing is here.\nPlease advise.",
        ),
        True,
        False,
        True,
    ),
    Topic(
        "en_billing",
        60,
        "Thanh toán",
        "Thanh toán",
        ("billing",),
        (
            "Charged twice for the same order",
            "Refund request for a cancelled order",
            "Invoice with the wrong company name",
        ),
        (
            "Hello,\nI see two charges on my card for one order.\nPlease refund one of them.",
            "I cancelled my order yesterday; when will I get my money back?",
        ),
        True,
        True,
        False,
    ),
    Topic(
        "en_account",
        40,
        "Kỹ thuật",
        "Tài khoản",
        ("account",),
        ("Cannot log in to the app", "Password reset email never arrives", "Please delete my account"),
        ("Hi team,\nThe app keeps saying my password is wrong.\nThanks.",),
        False,
        False,
        False,
    ),
    Topic(
        "khac",
        30,
        "Chăm sóc khách hàng",
        "Khác",
        (),
        ("Góp ý về thái độ nhân viên", "Hỏi giờ mở cửa cửa hàng", "Cảm ơn shop đã hỗ trợ nhiệt tình"),
        ("Tôi muốn góp ý về trải nghiệm mua hàng tại chi nhánh Quận 3.",),
        False,
        False,
        False,
    ),
]
# Phrases few tickets have, for searches that find almost nothing: (subject, one ticket in …).
RARE_PHRASES = [
    ("Nghi ngờ hàng giả, yêu cầu kiểm tra nguồn gốc", 2_000),
    ("Khiếu nại lên Bộ Công Thương về đơn hàng", 20_000),
]
# Added to some subjects, after the topic's phrase.
SUBJECT_SUFFIXES = ["", "", "", "", " - cần hỗ trợ gấp", " (khách VIP)", " - lần 2", " !!!"]
EXTRA_TAGS = [("vip", 30), ("khieu-nai", 40), ("zalo-oa", 20), ("tong-dai", 30), ("can-goi-lai", 25)]

CUSTOMER_REPLIES = [
    "Cảm ơn shop.\nTôi chờ thêm thông tin.",
    "Vẫn chưa được ạ.\nNhờ shop kiểm tra lại giúp em.",
    "Tôi đã gửi ảnh qua Zalo rồi nhé.",
    "Ok shop, mình nhận được rồi.\nCảm ơn nhiều!",
    "Sao lâu vậy shop? Tôi cần gấp trong tuần này.",
    "Thanks, that works for me.",
    "Any update on this?\nIt has been three days.",
]
AGENT_REPLIES = [
    "Chào anh/chị,\nEm đã kiểm tra đơn hàng và chuyển bộ phận liên quan xử lý.\n"
    "Em sẽ phản hồi trong hôm nay ạ.",
    "Dạ shop xin lỗi vì sự bất tiện này.\nĐơn của anh/chị sẽ được ưu tiên xử lý.",
    "Em gửi anh/chị mã vận đơn để tiện theo dõi.\nMọi thắc mắc xin liên hệ tổng đài 1900 1234.",
    "Shop đã hoàn tiền, tiền sẽ về tài khoản trong 3-5 ngày làm việc.",
    "Dạ anh/chị vui lòng gửi giúp em ảnh chụp sản phẩm và hóa đơn mua hàng ạ.",
    "Hi,\nThanks for reaching out. I have escalated this to our logistics team.\nBest regards.",
    "Your refund has been processed; it should reach your card within 5 business days.",
]
INTERNAL_NOTES = [
    "Đã gọi cho khách, hẹn gọi lại lúc 15h.",
    "Chuyển nhóm Vận chuyển kiểm tra với đơn vị GHN.",
    "Khách VIP, ưu tiên xử lý trong ngày.\nĐã báo trưởng nhóm.",
    "Kế toán xác nhận đã hoàn tiền, chờ ngân hàng.",
    "Checked with the warehouse: item out of stock until next week.",
]
