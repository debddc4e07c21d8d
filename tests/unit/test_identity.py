"""One customer across channels and reworded follow-ups (issue 9)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from config import load_business_rules, load_settings
from models import Customer, FeedbackReceived, FeedbackTriaged
from triage.classifier import KeywordClassifier
from triage.dedup import Deduplicator, MemoryDedupStore, entities
from triage.engine import TriageEngine

RULES = load_business_rules(load_settings().business)
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)
KEY = "k" * 16


def engine(store: MemoryDedupStore) -> TriageEngine:
    d = Deduplicator(store=store, hash_key=KEY)
    return TriageEngine(RULES, KeywordClassifier(), KEY, ZoneInfo("Asia/Shanghai"), dedup=d)


def fb(sid: str, text: str, hours: float, channel: str = "web_form", **c: str) -> FeedbackReceived:
    return FeedbackReceived(
        channel=channel,  # type: ignore[arg-type]
        source_id=sid,
        received_at=T0 + timedelta(hours=hours),
        text=text,
        customer=Customer(**c),
    )


def run(store: MemoryDedupStore, item: FeedbackReceived) -> FeedbackTriaged:
    # a new engine per item: state only through the store, as with restarts
    out = engine(store).triage_batch([item], item.received_at)[0]
    assert isinstance(out, FeedbackTriaged)
    return out


def test_phone_and_email_seen_together_link_a_later_email_only_item() -> None:
    s = MemoryDedupStore()
    run(
        s,
        fb(
            "a",
            "智能插座SP-20配网卡在99%，换路由器也不行",
            0,
            phone="13900001001",
            email="x@example.com",
        ),
    )
    b = run(s, fb("b", "你好，SP-20还是连不上网，请给个说法", 30, "email", email="x@example.com"))
    c = run(s, fb("c", "提交三天了没人联系我，电话13900001001", 70, "social", account="weibo:h1"))
    assert b.triage.duplicate_of == "web_form:a" and c.triage.duplicate_of == "web_form:a"
    assert c.triage.repeat_count == 2
    assert all(len(k) == 32 for k in s.links)  # keyed hashes only, no readable contact
    assert not any("13900001001" in k or "example" in k for k in s.links)


def test_a_common_name_alone_never_links_but_name_and_order_do() -> None:
    s = MemoryDedupStore()
    run(s, fb("a", "发票一直开不出来，提示税号格式错误", 0, name="王先生", phone="13900001005"))
    other = run(s, fb("b", "开发票时提示税号格式错误", 1, name="王先生"))
    assert other.triage.duplicate_of is None  # same name, same problem, nobody else: no link
    run(
        s,
        fb(
            "c",
            "更新后看视频闪退，会员订单DD8812345678用不了",
            2,
            "app_review",
            name="夜猫子",
            account="appstore:n1",
        ),
    )
    d = run(
        s, fb("d", "应用商店评论过了，订单DD8812345678闪退", 5, name="夜猫子", phone="13900001003")
    )
    assert d.triage.duplicate_of == "app_review:c"


def test_same_customer_second_problem_is_not_a_repeat_but_entities_find_the_first() -> None:
    s = MemoryDedupStore()
    run(s, fb("a", "电视XT-65屏幕有一条竖线", 0, phone="13700002014"))
    b = run(s, fb("b", "送货的师傅把我家门框撞坏了，要求赔偿", 20, phone="13700002014"))
    c = run(s, fb("c", "XT-65电视屏幕竖线的问题还没处理，要求换机", 40, phone="13700002014"))
    assert b.triage.duplicate_of is None
    assert c.triage.duplicate_of == "web_form:a"


def test_survey_answer_is_a_follow_up_and_entities_are_hashed() -> None:
    s = MemoryDedupStore()
    run(s, fb("a", "会员自动续费扣了我198元，已经取消过了，请退款", 0, phone="13900001002"))
    b = run(s, fb("b", "回访打1分，扣的钱还没退", 50, "survey", phone="13900001002"))
    assert b.triage.duplicate_of == "web_form:a"
    assert not any("198" in e or "XT" in e for e in entities("扣了198元 XT-65"))
    assert len(entities("扣了198元 XT-65 订单DD8812345678")) == 3


def test_links_expire_with_the_window() -> None:
    s = MemoryDedupStore()
    run(s, fb("a", "配网失败", 0, phone="13900001001", email="x@example.com"))
    assert len(s.links) == 2
    d = engine(s).dedup
    assert isinstance(d, Deduplicator)
    assert d.purge(T0 + timedelta(days=31)) >= 2 and not s.links and not s.rows
