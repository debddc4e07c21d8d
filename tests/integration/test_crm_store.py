"""The CRM store against a real PostgreSQL: idempotence, offsets, numbering."""

import re
import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import psycopg
import pytest

from config import load_business_rules, load_settings
from core.errors import SchemaError
from core.store.schema import check_schema, current_version, latest_version, migrate
from sinks.crm.store import CrmStore
from tests.helpers import count, feedback
from triage.classifier import KeywordClassifier
from triage.engine import TriageEngine

TZ = ZoneInfo("Asia/Shanghai")
ENGINE = TriageEngine(
    load_business_rules(load_settings().business), KeywordClassifier(), "k" * 16, TZ
)
FMT = "CRM{date:%Y%m%d}{seq:04d}"


def triaged(n: int):
    return ENGINE.triage_batch([feedback(n)], datetime.now(UTC))[0]


def test_migrate_is_idempotent_and_checked(fresh_db: str, pg_admin_dsn: str) -> None:
    assert migrate(fresh_db) == []  # already applied by the fixture
    with psycopg.connect(fresh_db) as c:
        assert current_version(c) == latest_version()
        check_schema(c)
    empty = pg_admin_dsn.rpartition("/")[0] + "/postgres"
    with psycopg.connect(empty) as c, pytest.raises(SchemaError, match="tingjian db migrate"):
        check_schema(c)


def test_redelivered_batch_makes_no_second_ticket(fresh_db: str) -> None:
    store = CrmStore(fresh_db, FMT, TZ)
    batch = [triaged(i) for i in range(20)]
    assert store.write_batch(batch, "g", {("t", 0): 20}) == (20, 0, 0)
    assert store.write_batch(batch, "g", {("t", 0): 20}) == (0, 0, 20)
    assert count(fresh_db, "SELECT count(*) FROM tickets") == 20
    assert store.stored_offsets("g", [("t", 0), ("t", 1)]) == {("t", 0): 20}
    # offsets never go backwards (a zombie worker's late commit)
    store.write_batch([], "g", {("t", 0): 5})
    assert store.stored_offsets("g", [("t", 0)]) == {("t", 0): 20}


def test_ticket_fields_follow_spec(fresh_db: str) -> None:
    store = CrmStore(fresh_db, FMT, TZ)
    t = triaged(4)
    store.write_batch([t], "g", {})
    with psycopg.connect(fresh_db) as c:
        row = c.execute(
            "SELECT ticket_no, type, priority, department, summary, ack_due_at, state,"
            " (SELECT count(*) FROM ticket_events e WHERE e.ticket_id = tickets.id) FROM tickets"
        ).fetchone()
    day = t.feedback.received_at.astimezone(TZ).strftime("%Y%m%d")
    assert row[0] == f"CRM{day}0001"
    assert row[1:5] == (t.triage.type, t.triage.priority, t.triage.department, t.triage.summary)
    assert row[5] == t.triage.sla.acknowledge_by
    assert row[6] == "新建" and row[7] == 1


def test_numbers_are_unique_and_gap_free_with_concurrent_writers(fresh_db: str) -> None:
    items = [triaged(i) for i in range(200)]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        store = CrmStore(fresh_db, FMT, TZ)
        try:
            for j in range(k, 200, 4):
                store.write_batch([items[j]], f"g{k}", {})
        except BaseException as exc:
            errors.append(exc)
        finally:
            store.close()

    threads = [threading.Thread(target=worker, args=(k,)) for k in range(4)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert errors == []
    with psycopg.connect(fresh_db) as c:
        nos = [r[0] for r in c.execute("SELECT ticket_no FROM tickets").fetchall()]
    assert len(nos) == len(set(nos)) == 200
    seqs = sorted(int(n[-4:]) for n in nos)
    assert seqs == list(range(1, 201))
    assert all(re.fullmatch(r"CRM\d{8}\d{4}", n) for n in nos)


def test_an_item_the_database_refuses_is_handed_back_and_the_rest_commits(fresh_db: str) -> None:
    with psycopg.connect(fresh_db, autocommit=True) as c:
        # stands in for any data error (a constraint added later, bad bytes...)
        c.execute(
            "ALTER TABLE tickets ADD CONSTRAINT no_poison CHECK (content NOT LIKE '%POISON%')"
        )
    store = CrmStore(fresh_db, FMT, TZ)
    good1, good2 = triaged(1), triaged(2)
    poison = triaged(3).model_copy(
        update={"feedback": triaged(3).feedback.model_copy(update={"text": "POISON"})}
    )
    rejected: list[object] = []
    assert store.write_batch(
        [good1, poison, good2], "g", {("t", 0): 3}, on_rejected=rejected.extend
    ) == (2, 0, 0)
    assert [item.feedback.text for item, _ in rejected] == ["POISON"]  # type: ignore[attr-defined]
    assert isinstance(rejected[0][1], psycopg.IntegrityError)  # type: ignore[index]
    assert store.stored_offsets("g", [("t", 0)]) == {("t", 0): 3}
    assert count(fresh_db, "SELECT count(*) FROM tickets") == 2
    # numbers stay gap-free: the refused item's number was rolled back with its savepoint
    assert sorted(
        r[0][-4:] for r in psycopg.connect(fresh_db).execute("SELECT ticket_no FROM tickets")
    ) == ["0001", "0002"]


def test_dead_letter_write_failing_rolls_everything_back(fresh_db: str) -> None:
    with psycopg.connect(fresh_db, autocommit=True) as c:
        c.execute(
            "ALTER TABLE tickets ADD CONSTRAINT no_poison CHECK (content NOT LIKE '%POISON%')"
        )
    store = CrmStore(fresh_db, FMT, TZ)
    poison = triaged(3).model_copy(
        update={"feedback": triaged(3).feedback.model_copy(update={"text": "POISON"})}
    )

    def dlq_down(rejected: object) -> None:
        raise RuntimeError("kafka down")

    with pytest.raises(RuntimeError):
        store.write_batch([triaged(1), poison], "g", {("t", 0): 2}, on_rejected=dlq_down)
    assert count(fresh_db, "SELECT count(*) FROM tickets") == 0
    assert store.stored_offsets("g", [("t", 0)]) == {}


def test_a_reused_idempotency_key_keeps_its_number_and_refuses_another_body(
    fresh_db: str,
) -> None:
    from datetime import UTC, datetime

    from core.errors import IdempotencyConflict
    from core.store.numbering import NumberAllocator

    now = datetime.now(UTC)
    first = NumberAllocator(fresh_db, FMT, TZ)
    n = first.allocate(now, "web_form:idem-1", "a" * 64)
    # a restarted connector (a new allocator) answers the same retry the same way
    again = NumberAllocator(fresh_db, FMT, TZ)
    assert again.allocate(now, "web_form:idem-1", "a" * 64) == n
    with pytest.raises(IdempotencyConflict):
        again.allocate(now, "web_form:idem-1", "b" * 64)
    assert again.allocate(now, "web_form:idem-2", "b" * 64) != n


def test_recent_tickets_sort_by_number_past_9999_a_day(fresh_db: str) -> None:
    store = CrmStore(fresh_db, FMT, TZ)
    store.write_batch([triaged(i) for i in range(5)], "g", {})
    # inserted in this id order; by number the order is day 1's 9999, 10000,
    # 10001, then day 2's 0001 and 0002
    numbers = ["CRM2026113010000", "CRM202612010002", "CRM202611309999", "CRM202612010001"]
    numbers.append("CRM2026113010001")
    with psycopg.connect(fresh_db) as c:
        ids = [r[0] for r in c.execute("SELECT id FROM tickets ORDER BY id").fetchall()]
        for i, no in zip(ids, numbers, strict=True):
            c.execute("UPDATE tickets SET ticket_no = %s WHERE id = %s", (no, i))
    got = [t.ticket_no for t in store.recent_tickets(4)]
    assert got == ["CRM202612010002", "CRM202612010001", "CRM2026113010001", "CRM2026113010000"]
    store.close()


def test_a_terminated_backend_costs_the_next_customer_nothing(fresh_db: str) -> None:
    """A web connector's allocator connection killed while idle (a restarted
    pooler, pg_terminate_backend): the next allocation reconnects and succeeds
    instead of answering 503."""
    from core.store.numbering import NumberAllocator

    alloc = NumberAllocator(fresh_db, FMT, TZ)
    now = datetime.now(UTC)
    first = alloc.allocate(now, "web_form:a")
    pid = alloc._pg.get().info.backend_pid
    with psycopg.connect(fresh_db, autocommit=True) as c:
        assert c.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
    second = alloc.allocate(now, "web_form:b")
    assert second != first and alloc._pg.get().info.backend_pid != pid
    assert alloc.allocate(now, "web_form:a") == first
