from core.mailtext import strip_quotes_and_signature
from triage.normalize import normalize


def test_traditional_and_fullwidth_become_simplified_halfwidth() -> None:
    n = normalize("這個軟體ＡＰＰ登入後一直轉圈１２３！")
    assert "这个软件APP" in n.text and "123!" in n.text


def test_html_to_text_drops_scripts_and_blockquotes() -> None:
    n = normalize(
        "<html><body><p>页面&amp;按钮无反应</p><script>x()</script><blockquote>旧邮件</blockquote></body></html>"
    )
    assert n.text == "页面&按钮无反应"


def test_chinese_and_english_quoted_replies_are_cut() -> None:
    qq = "还是没修好\n\n------------------ 原始邮件 ------------------\n发件人: 客服\n旧内容"
    assert strip_quotes_and_signature(qq) == "还是没修好"
    n163 = '已经第三次了\n在 2023-10-01 10:00:00，"客服" <kf@example.com> 写道：\n> 您好'
    assert strip_quotes_and_signature(n163) == "已经第三次了"
    outlook = "退款到哪了？\n\n发件人: 客服中心\n发送时间: 2023年10月1日\n主题: 回复"
    assert strip_quotes_and_signature(outlook) == "退款到哪了？"
    en = "Refund please\nOn Mon, Oct 2, 2023 at 10:00 AM Shop <a@b.com> wrote:\n> hi"
    assert strip_quotes_and_signature(en) == "Refund please"
    sig = "APP闪退\n\n发自我的iPhone"
    assert strip_quotes_and_signature(sig) == "APP闪退"


def test_placeholders_and_extracted_entities() -> None:
    n = normalize(
        "订单号SF1402238876512扣了¥399.00，电话13812345678，见 https://x.cn/a 邮箱 a.b@c.com"
    )
    assert "ORDERNO" in n.model_text and "PHONE" in n.model_text and "URL" in n.model_text
    assert "EMAIL" in n.model_text
    assert n.entities["order"] == ("SF1402238876512",)
    assert n.entities["amount"] == ("¥399.00",)
    assert n.entities["phone"] == ("138****5678",)  # entities never carry a clear phone
    assert n.entities["email"] == ("a***@c.com",)


def test_never_strips_everything() -> None:
    assert strip_quotes_and_signature("发件人: 我自己") == "发件人: 我自己"
