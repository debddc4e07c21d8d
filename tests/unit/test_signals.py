"""The priority signals of SPEC §5 on their own positive and negative cases,
including the substring accidents that a plain pattern match falls into."""

from __future__ import annotations

import pytest

from config import load_business_rules, load_settings
from triage.normalize import normalize
from triage.signals import SignalExtractor, decide_priority, max_amount

RULES = load_business_rules(load_settings().business).priority
X = SignalExtractor(RULES)


def fired(text: str) -> set[str]:
    return set(X.extract(normalize(text).text).fired)


P1_CASES = [
    ("core.blocked", "更新之后APP一打开就闪退，根本用不了"),
    ("core.blocked", "登录一直转圈，进不去"),
    ("core.blocked", "付款的时候一直提示系统繁忙，今天必须交房租"),
    ("core.blocked", "app crash了，login不了"),
    ("core.blocked", "轉賬一直失敗，用唔到"),
    ("loss.money", "支付失败我又付了一次，结果扣了两次，每次399元"),
    ("loss.money", "账户余额莫名其妙变成0了，里面有两千多"),
    ("loss.money", "会员积分全部清零了"),
    ("loss.data", "云盘里的照片全没了"),
    ("loss.data", "游戏存档丢失，三年的进度"),
    ("account.stolen", "我的账号被盗了，还被人改了密码"),
    ("account.stolen", "手机丢了，上面绑着银行卡，先帮我冻结"),
    ("safety", "吃完你们的外卖全家上吐下泻，已经去急诊了"),
    ("safety", "充电的时候充电器冒烟了"),
    ("public_opinion", "再不处理我就打12315"),
    ("public_opinion", "已经联系了律师，准备起诉"),
    ("public_opinion", "我要找媒体曝光你们"),
    ("public_opinion", "我會向消保官投訴"),
    ("mass_impact", "全公司都登不上系统，有没有人跟我一样"),
]


@pytest.mark.parametrize(("signal", "text"), P1_CASES, ids=[t for _, t in P1_CASES])
def test_p1_signal_fires(signal: str, text: str) -> None:
    assert signal in fired(text)


HARD_NEGATIVES = [
    ("public_opinion", "教室里的多媒体设备很好用"),
    ("public_opinion", "夜景模式拍出来曝光过度，能优化一下吗"),
    ("public_opinion", "请问烟雾报警器怎么安装"),
    ("public_opinion", "门店就在公安局对面，很好找"),
    ("public_opinion", "我的订单号是2023123450001，请问什么时候发货"),
    ("public_opinion", "我不打算起诉，只想尽快解决"),
    ("public_opinion", "不用报警，已经找回来了"),
    ("loss.data", "照片没有丢失，只是不显示缩略图"),
    ("account.stolen", "不是被盗，是我自己忘了密码"),
    ("loss.money", "运费多扣了10块，麻烦退一下"),
    ("core.blocked", "能不能增加一个夜间模式"),
    ("core.blocked", "APP闪退了一次，重开就好了"),
    ("safety", "这个空气炸锅很好用"),
]


@pytest.mark.parametrize(("signal", "text"), HARD_NEGATIVES, ids=[t for _, t in HARD_NEGATIVES])
def test_hard_negative_does_not_fire(signal: str, text: str) -> None:
    assert signal not in fired(text)


def test_a_small_wrong_charge_is_a_money_dispute_not_a_loss() -> None:
    got = fired("运费多扣了10块，麻烦退一下")
    assert "loss.money_small" in got and "loss.money" not in got
    assert max_amount("每次399元，共798元") == 798
    assert max_amount("扣了两百块") == 200


def test_a_one_off_crash_is_degraded() -> None:
    assert "core.degraded" in fired("APP闪退了一次，重开就好了")


def test_quoted_reply_lines_and_titles_never_fire() -> None:
    assert "public_opinion" not in fired("谢谢，问题解决了\n> 如有疑问可拨打12315")
    assert "public_opinion" not in fired("推荐看看《新闻曝光》这本书")


def _decide(text: str, type_: str = "bug", model: str = "P3", p1: float = 0.1) -> tuple[str, ...]:
    s = X.extract(normalize(text).text)
    d = decide_priority(RULES, s, model, p1, type_)  # type: ignore[arg-type]
    return (d.priority, *d.reasons)


def test_rules_combine_signals_and_model() -> None:
    assert _decide("扣了两次，每次399元")[0] == "P1"
    assert _decide("扣了两次，每次399元")[1] == "signal:loss.money:扣了两次"
    # praise that mentions the police is not urgent
    assert _decide("多亏客服提醒我报警，钱追回来了，太感谢了", "praise", "P4")[0] == "P4"
    # the model's P1 stands only when it is sure
    assert _decide("页面字体有点小", "ux", "P1", 0.9)[0] == "P1"
    assert _decide("页面字体有点小", "ux", "P1", 0.3)[0] == "P2"
    # a P2 signal raises P3/P4, never lowers
    assert _decide("第三次反馈了，优惠券还是用不了", "complaint", "P4")[0] in ("P1", "P2")
    assert _decide("运费多扣了10块", "complaint", "P3")[0] == "P2"


def test_fuzzy_signals_need_the_model_to_agree_a_little() -> None:
    # a blocked core function alone is not enough when the model sees no P1 at all
    assert _decide("登录一直转圈，进不去", "bug", "P2", 0.02)[0] == "P2"
    assert _decide("登录一直转圈，进不去", "bug", "P2", 0.2)[:2] == (
        "P1",
        "signal:core.blocked:一直转圈",
    )
    # a loss needs no agreement (SPEC §5: P1 whatever the model thinks)
    assert _decide("扣了两次，每次399元", "bug", "P3", 0.0)[0] == "P1"
