from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from config import load_business_rules, load_settings
from models import Customer, FeedbackReceived, FeedbackTriaged, Quarantined
from triage.classifier import Prediction
from triage.engine import TriageEngine

RULES = load_business_rules(load_settings().business)
NOW = datetime(2026, 11, 20, 2, 0, tzinfo=UTC)


class Fixed:
    """A classifier that says what the test tells it, to isolate the rules."""

    version = "fixed-1"

    def __init__(self, type_: str, priority: str, conf: float = 0.9) -> None:
        self.p = Prediction(type_, conf, priority, conf, "negative", -0.5, conf)

    def predict(self, texts: Sequence[str]) -> list[Prediction]:
        return [self.p for _ in texts]


def engine(type_: str, priority: str, conf: float = 0.9) -> TriageEngine:
    return TriageEngine(
        RULES, Fixed(type_, priority, conf), "test-key-1234", ZoneInfo("Asia/Shanghai")
    )


def item(text: str, **kw: object) -> FeedbackReceived:
    return FeedbackReceived(
        channel=kw.pop("channel", "web_form"), source_id="s", received_at=NOW, text=text, **kw
    )  # type: ignore[arg-type]


def one(e: TriageEngine, it: FeedbackReceived) -> FeedbackTriaged:
    out = e.triage_batch([it], NOW)[0]
    assert isinstance(out, FeedbackTriaged)
    return out


def test_p1_rule_cannot_be_lowered_by_the_model() -> None:
    out = one(engine("bug", "P4"), item("付款后银行卡扣了两次，请退款"))
    assert out.triage.priority == "P1"
    assert "signal:loss.money:扣了两次" in out.triage.escalations
    assert "loss.money:扣了两次" in out.triage.signals


def test_signals_are_recorded_even_when_they_change_nothing() -> None:
    out = one(engine("bug", "P2"), item("登录偶尔很慢"))
    assert out.triage.priority == "P2" and out.triage.escalations == ()
    assert any(s.startswith("core.degraded:") for s in out.triage.signals)


def test_public_opinion_threat_is_p1() -> None:
    out = one(engine("complaint", "P3"), item("再不处理我就打12315投诉"))
    assert out.triage.priority == "P1"


def test_repeat_complaint_is_at_least_p2() -> None:
    out = one(engine("complaint", "P4"), item("这是我第三次反映这个问题了"))
    assert out.triage.priority == "P2"


def test_high_value_customer_raises_one_level() -> None:
    out = one(engine("ux", "P3"), item("按钮有点小", customer=Customer(segment="高价值客户")))
    assert out.triage.priority == "P2"


def test_angry_tone_alone_does_not_escalate() -> None:
    out = one(engine("ux", "P3"), item("气死我了！！！这个图标颜色太丑了！！！"))
    assert out.triage.priority == "P3"
    assert out.triage.escalations == ()


def test_spam_is_quarantined_with_reason() -> None:
    out = engine("spam", "P4").triage_batch([item("加微信领红包")], NOW)[0]
    assert isinstance(out, Quarantined) and out.reason == "spam"


def test_routing_and_sla_come_from_config() -> None:
    out = one(engine("suggestion", "P4"), item("希望增加批量导出"))
    assert out.triage.department == RULES.routing.departments["suggestion"] == "产品部"
    assert out.triage.sla.queue == "需求池"


def test_survey_nps_6_is_a_retention_item() -> None:
    out = one(engine("complaint", "P4"), item("一般吧", channel="survey", metadata={"nps": "6"}))
    assert out.triage.priority == "P2" and "survey:retention" in out.triage.escalations


def test_nps_on_the_web_form_is_a_retention_item_too() -> None:
    out = one(engine("ux", "P4"), item("还行吧", channel="web_form", metadata={"nps": "3"}))
    assert out.triage.priority == "P2" and "survey:retention" in out.triage.escalations


def test_low_confidence_needs_review() -> None:
    out = one(engine("bug", "P3", conf=0.3), item("有点问题"))
    assert out.triage.needs_review
    assert not one(engine("bug", "P3", conf=0.95), item("有点问题")).triage.needs_review


def test_summary_is_one_line_at_most_30_chars() -> None:
    text = "您好！" + "我们公司的账号在批量导入客户名单时一直提示格式错误，" * 4
    s = one(engine("bug", "P3"), item(text)).triage.summary
    assert len(s) <= 30 and "\n" not in s and not s.startswith("您好")


def test_summary_never_carries_a_contact() -> None:
    text = "退款一直没到账，请打13812345678或写信给li.na@example.com，我的账号是wx_zhang88"
    s = one(engine("complaint", "P3"), item(text)).triage.summary
    assert "13812345678" not in s and "li.na@" not in s and "wx_zhang88" not in s


def test_summary_drops_reply_prefixes_and_mentions() -> None:
    from triage.summary import summarize

    assert summarize("Re: Re: 电子合同无法签署") == "电子合同无法签署"
    assert summarize("@某某客服 @小助手 宽带从早上就断了").startswith("宽带从早上就断了")


def test_spam_keeps_what_triage_made_of_it() -> None:
    out = engine("spam", "P2").triage_batch([item("加微信领红包")], NOW)[0]
    assert isinstance(out, Quarantined) and out.triage is not None
    assert out.triage.type == "spam" and out.triage.priority == "P4"


def test_unsure_spam_stays_a_ticket_for_review() -> None:
    class Unsure:
        version = "unsure-1"

        def predict(self, texts: Sequence[str]) -> list[Prediction]:
            return [
                Prediction(
                    "spam", 0.45, "P4", 0.9, "neutral", 0.0, 0.9, type_alternative="complaint"
                )
                for _ in texts
            ]

    e = TriageEngine(RULES, Unsure(), "test-key-1234", ZoneInfo("Asia/Shanghai"))
    out = one(e, item("你们的活动规则写得不清楚"))
    assert out.triage.type == "complaint" and out.triage.needs_review


def test_an_sla_past_the_holiday_calendar_is_reported() -> None:
    e = engine("bug", "P3")
    one(e, item("有点问题"))
    assert e.calendar_gaps == set()
    late = FeedbackReceived(
        channel="web_form",
        source_id="late",
        received_at=datetime(2031, 3, 2, 10, 0, tzinfo=UTC),
        text="页面打不开",
    )
    e.triage_batch([late], late.received_at)
    assert e.calendar_gaps == {2031}


def test_triage_health_shows_the_uncovered_years() -> None:
    from types import SimpleNamespace

    from models import Topics
    from tingjian.services.triage import TriageService

    e = engine("bug", "P3")
    e.calendar_gaps.add(2031)
    settings = load_settings({"kafka": {"bootstrap_servers": "127.0.0.1:1"}})
    svc = TriageService(
        settings=settings,
        engine=e,
        producer=None,  # type: ignore[arg-type]
        topics=Topics(""),
        watcher=SimpleNamespace(refused=None),  # type: ignore[arg-type]
        metrics_port=None,
    )
    doc = svc.health()
    assert doc["calendar_uncovered_years"] == [2031]
