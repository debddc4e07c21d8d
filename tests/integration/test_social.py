"""Social connectors against a local stand-in speaking the platforms' shapes,
with a real broker and database."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import pytest

from config.settings import SocialSourceSettings
from core.kafka import make_producer, send_all
from ingest.checkpoints import CheckpointStore
from ingest.social.adapters import build_adapter
from ingest.social.poller import SocialPoller
from models import FeedbackReceived, Topics
from tests.fakes.platforms import FakePlatforms
from tests.helpers import kafka_topics, wait_for
from tests.integration.test_email_imap import _drain


@pytest.fixture
def fake() -> Iterator[FakePlatforms]:
    f = FakePlatforms().start()
    yield f
    f.stop()


def _poller(
    name: str, cfg: SocialSourceSettings, kafka: str, dsn: str, prefix: str, stop: threading.Event
) -> tuple[SocialPoller, Topics]:
    kcfg, topics = kafka_topics(kafka, prefix)
    producer = make_producer(kcfg)
    p = SocialPoller(
        name,
        cfg,
        build_adapter(cfg),
        CheckpointStore(dsn, f"social:{name}"),
        lambda o: send_all(producer, o, 30),
        topics=topics,
        hash_key="k" * 16,
        stop=stop,
    )
    return p, topics


def test_weibo_pages_faults_and_cursor(
    fake: FakePlatforms, kafka_bootstrap: str, fresh_db: str, topic_prefix: str
) -> None:
    fake.add_weibo("123", 120)
    fake.add_weibo("456", 0)  # an empty thread: an empty page is fine
    fake.faults.extend(
        [
            (
                429,
                {"Retry-After": "1"},
                b'{"error":"User requests out of rate limit!","error_code":10023}',
            ),
            (502, {}, b"<html>Bad Gateway</html>"),
            (200, {}, b'{"comments": [ {"id": 1, '),  # malformed JSON
        ]
    )
    cfg = SocialSourceSettings(
        adapter="weibo",
        base_url=fake.url,
        access_token="good-token",
        threads=["123", "456"],
        page_size=50,
        poll_interval_s=0.2,
        max_backoff_s=2,
    )
    stop = threading.Event()
    poller, topics = _poller("weibo", cfg, kafka_bootstrap, fresh_db, topic_prefix, stop)
    th = threading.Thread(target=poller.run, daemon=True)
    started = time.monotonic()
    th.start()
    try:
        wait_for(lambda: poller.state.produced >= 120, 30, "120 weibo comments")
        assert time.monotonic() - started >= 1.0  # Retry-After was honoured
        fake.add_weibo("123", 10, start=120)
        wait_for(lambda: poller.state.produced >= 130, 30, "10 more")
        time.sleep(1)  # more polls: nothing new may be produced
        assert poller.state.produced == 130
        # the token expires: a clear error, the service keeps running
        fake.token = "rotated"
        wait_for(lambda: poller.state.token_expired, 10, "token error")
        assert "expired_token" in (poller.state.last_error or "")
        assert th.is_alive()
    finally:
        stop.set()
        th.join(5)
    items = [
        FeedbackReceived.model_validate_json(v)
        for v in _drain(topics.received, kafka_bootstrap, 130)
    ]
    assert len(items) == 130 == len({i.source_id for i in items})
    one = items[0]
    assert (
        one.channel == "social"
        and one.metadata["platform"] == "weibo"
        and one.customer.name.startswith("网友")
    )
    assert one.received_at.utcoffset() is not None


def test_wechat_comments_and_expired_token(
    fake: FakePlatforms, kafka_bootstrap: str, fresh_db: str, topic_prefix: str
) -> None:
    fake.add_wechat("2247483647:0", 75)
    cfg = SocialSourceSettings(
        adapter="wechat",
        base_url=fake.url,
        access_token="good-token",
        threads=["2247483647:0"],
        page_size=20,
    )
    poller, topics = _poller(
        "wechat", cfg, kafka_bootstrap, fresh_db, topic_prefix, threading.Event()
    )
    assert poller.poll_once() == 75
    fake.add_wechat("2247483647:0", 5)
    assert poller.poll_once() == 5
    assert poller.poll_once() == 0
    fake.token = "other"
    from ingest.social.adapters import TokenExpired

    with pytest.raises(TokenExpired, match="42001"):
        poller.poll_once()
    items = [
        FeedbackReceived.model_validate_json(v)
        for v in _drain(topics.received, kafka_bootstrap, 80)
    ]
    assert len({i.source_id for i in items}) == 80


def test_generic_review_feed_is_configuration(
    fake: FakePlatforms, kafka_bootstrap: str, fresh_db: str, topic_prefix: str
) -> None:
    fake.feed = [
        {
            "review_id": f"r{i}",
            "body": f"应用商店评论{i}：更新后闪退",
            "user": {"nick": f"用户{i}"},
            "ts": 1763600000 + i,
        }
        for i in range(45)
    ]
    cfg = SocialSourceSettings.model_validate(
        {
            "adapter": "generic",
            "base_url": fake.url + "/reviews",
            "access_token": "good-token",
            "channel": "app_review",
            "page_size": 20,
            "mapping": {
                "items_path": "data.reviews",
                "id_path": "review_id",
                "text_path": "body",
                "author_path": "user.nick",
                "created_at_path": "ts",
                "next_cursor_path": "paging.next",
            },
        }
    )
    poller, topics = _poller(
        "appstore", cfg, kafka_bootstrap, fresh_db, topic_prefix, threading.Event()
    )
    assert poller.poll_once() == 45
    fake.feed += [
        {"review_id": "r45", "body": "新评论", "user": {"nick": "新用户"}, "ts": 1763700000}
    ]
    assert poller.poll_once() == 1
    items = [
        FeedbackReceived.model_validate_json(v)
        for v in _drain(topics.received, kafka_bootstrap, 46)
    ]
    assert (
        len(items) == 46 and items[0].channel == "app_review" and items[0].customer.name == "用户0"
    )
