"""The default bundle, trained from the project's own corpus as `make run`
does, on feedback a newcomer types on day one (none of it from the frozen
split): English is feedback, not spam; calm urgent items are P1; hard
negatives are not."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from config import load_business_rules, load_settings
from models import Customer, FeedbackReceived, FeedbackTriaged, Quarantined
from tingjian.data_tools import default_corpus
from triage.engine import TriageEngine
from triage.training import fit_bundle, load_labeled

NOW = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def engine() -> TriageEngine:
    bundle = fit_bundle(load_labeled(default_corpus()))
    rules = load_business_rules(load_settings().business)
    return TriageEngine(rules, bundle, "k" * 16, ZoneInfo("Asia/Shanghai"))


def triage(engine: TriageEngine, text: str) -> FeedbackTriaged | Quarantined:
    item = FeedbackReceived(
        channel="app_review", source_id="x", received_at=NOW, text=text, customer=Customer()
    )
    return engine.triage_batch([item], NOW)[0]


@pytest.mark.parametrize(
    "text",
    [
        "the app crashes every time I try to upload a photo",
        "Refund still not received after 10 days, please check my order",
        "呵呵，哈哈，估计买到假货了~",
        "login 唔到啊，一直 loading",
    ],
)
def test_english_mixed_and_sarcastic_feedback_is_never_quarantined(
    engine: TriageEngine, text: str
) -> None:
    assert isinstance(triage(engine, text), FeedbackTriaged)


def test_ads_are_still_quarantined(engine: TriageEngine) -> None:
    out = triage(engine, "加微信领红包，兼职刷单日赚三百，名额有限速来")
    assert isinstance(out, Quarantined) and out.reason == "spam"


@pytest.mark.parametrize(
    "text",
    [
        "您好，更新之后登录一直转圈，登不进去，今天还要用它交房租，麻烦看一下。",
        "我的积分昨天还有三万多，今天打开变成0了，也没有任何兑换记录。",
        "账号好像被人登录了，密码也被改了，绑定的银行卡还在上面。",
        "孩子吃了你们的外卖以后上吐下泻，现在在医院。",
        "再这样拖下去我只能去12315投诉了。",
    ],
)
def test_calm_urgent_items_are_p1(engine: TriageEngine, text: str) -> None:
    out = triage(engine, text)
    assert isinstance(out, FeedbackTriaged)
    assert out.triage.priority == "P1", out.triage.signals


@pytest.mark.parametrize(
    "text",
    [
        "你们客服提醒我那是诈骗电话，还帮我报了警，太感谢了！",
        "运费多扣了10块钱，麻烦退一下。",
        "气死了！！！新版本的图标颜色太丑了！！！",
        "请问多媒体课件在哪里下载？",
        "我家住在公安局对面，快递能送到门口吗？",
    ],
)
def test_hard_negatives_are_not_p1(engine: TriageEngine, text: str) -> None:
    out = triage(engine, text)
    assert isinstance(out, FeedbackTriaged)
    assert out.triage.priority != "P1", out.triage.signals
