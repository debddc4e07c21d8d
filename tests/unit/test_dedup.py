from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from config import load_business_rules, load_settings
from models import Customer, FeedbackReceived, FeedbackTriaged
from triage.classifier import KeywordClassifier
from triage.dedup import Deduplicator, MemoryDedupStore
from triage.engine import TriageEngine

RULES = load_business_rules(load_settings().business)
T0 = datetime(2026, 11, 2, 2, 0, tzinfo=UTC)


def engine(store: MemoryDedupStore | None = None, **kw: object) -> TriageEngine:
    d = Deduplicator(store=store or MemoryDedupStore(), **kw)  # type: ignore[arg-type]
    return TriageEngine(RULES, KeywordClassifier(), "k" * 16, ZoneInfo("Asia/Shanghai"), dedup=d)


def fb(
    sid: str, text: str, phone: str | None = "13812345678", at: datetime = T0, **kw: object
) -> FeedbackReceived:
    return FeedbackReceived(
        channel="web_form",
        source_id=sid,
        received_at=at,
        text=text,
        customer=Customer(phone=phone),
        **kw,
    )  # type: ignore[arg-type]


def run(e: TriageEngine, *items: FeedbackReceived) -> list[FeedbackTriaged]:
    out = e.triage_batch(list(items), T0)
    assert all(isinstance(o, FeedbackTriaged) for o in out)
    return out  # type: ignore[return-value]


def test_same_customer_reworded_merges_and_counts() -> None:
    e = engine()
    a, b, c = run(
        e,
        fb("1", "APP登录后一直闪退，重装也不行"),
        fb("2", "APP登錄以後一直閃退，重裝了也不行啊！", phone="+86 138-1234-5678"),
        fb("3", "你们的APP登录后还是闪退，重装了也不行"),
    )
    assert a.triage.duplicate_of is None
    assert b.triage.duplicate_of == c.triage.duplicate_of == "web_form:1"
    assert (b.triage.repeat_count, c.triage.repeat_count) == (1, 2)
    assert b.triage.priority in ("P1", "P2")  # a repeat is at least P2


def test_different_customers_are_never_merged() -> None:
    e = engine()
    out = run(
        e, *(fb(str(i), "APP登录后一直闪退，重装也不行", phone=f"1390000{i:04d}") for i in range(3))
    )
    assert [o.triage.duplicate_of for o in out] == [None, None, None]


def test_unknown_sender_is_never_merged() -> None:
    out = run(engine(), fb("1", "闪退了", phone=None), fb("2", "闪退了", phone=None))
    assert out[1].triage.duplicate_of is None


def test_still_not_fixed_in_other_words_merges() -> None:
    e = engine()
    run(e, fb("1", "退款申请提交五天了，钱一直没到账"))
    (b,) = run(e, fb("2", "催一下，到现在还没退", at=T0 + timedelta(days=2)))
    assert b.triage.duplicate_of == "web_form:1"


def test_different_issue_of_the_same_customer_is_not_merged() -> None:
    e = engine()
    run(e, fb("1", "APP登录后一直闪退，重装也不行"))
    (b,) = run(e, fb("2", "希望增加夜间模式，晚上看着刺眼"))
    assert b.triage.duplicate_of is None


def test_outside_the_window_is_not_merged() -> None:
    e = engine(window=timedelta(days=30))
    run(e, fb("1", "APP登录后一直闪退，重装也不行"))
    (b,) = run(e, fb("2", "APP登录后一直闪退，重装也不行", at=T0 + timedelta(days=31)))
    assert b.triage.duplicate_of is None


def test_redelivery_gets_its_first_verdict_and_state_survives_a_new_instance() -> None:
    store = MemoryDedupStore()
    run(engine(store), fb("1", "APP登录后一直闪退"))
    (b,) = run(engine(store), fb("2", "APP登录后一直闪退!!"))  # a "restarted" worker
    (b2,) = run(engine(store), fb("2", "APP登录后一直闪退!!"))  # redelivered
    assert b.triage.duplicate_of == b2.triage.duplicate_of == "web_form:1"
    assert b.triage.repeat_count == b2.triage.repeat_count == 1


def test_burst_from_many_customers_is_an_incident_not_a_merge() -> None:
    e = engine(incident_threshold=5)
    out = run(
        e,
        *(
            fb(
                str(i),
                f"支付页面一直报错无法付款{'!' * i}",
                phone=f"1390000{i:04d}",
                at=T0 + timedelta(minutes=i),
            )
            for i in range(6)
        ),
    )
    assert [o.triage.incident for o in out] == [False, False, False, False, True, True]
    assert all(o.triage.duplicate_of is None for o in out)


def test_a_reworded_follow_up_on_the_same_topic_merges_with_its_reason() -> None:
    first, second = "下单四天了一直没有发货，太失望了", "快递到今天都没揽收，太失望了，商家怎么回事"
    for weight, merged in ((0.0, False), (0.2, True)):
        e = engine(w_topic=weight)
        run(e, fb("1", first))
        (b,) = run(e, fb("2", second, at=T0 + timedelta(days=1)))
        assert (b.triage.duplicate_of == "web_form:1") is merged
        assert ("topic" in b.triage.merge_reasons) is merged
        assert "物流配送" in b.triage.topics


def test_the_same_topic_alone_does_not_merge_another_customer() -> None:
    e = engine(w_topic=0.2)
    run(e, fb("1", "下单四天了一直没有发货，太失望了"))
    (b,) = run(e, fb("2", "快递到今天都没揽收，太失望了，商家怎么回事", phone="13900001111"))
    assert b.triage.duplicate_of is None
