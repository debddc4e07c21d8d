"""The CRM store's set-based batch write against a real PostgreSQL: it stores
exactly what item-by-item writes store (repeats of one ticket in one batch all
count, the most urgent priority and its deadlines win), mixed batches, a
refused item that falls back to per-item savepoints, gap-free numbers."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import psycopg

from config import load_business_rules, load_settings
from models import FeedbackTriaged
from sinks.crm.store import CrmStore
from tests.helpers import count, feedback
from triage.classifier import KeywordClassifier
from triage.engine import TriageEngine

TZ = ZoneInfo("Asia/Shanghai")
FMT = "CRM{date:%Y%m%d}{seq:04d}"
ENGINE = TriageEngine(
    load_business_rules(load_settings().business), KeywordClassifier(), "k" * 16, TZ
)
T0 = datetime.now(UTC).replace(microsecond=0)


def item(
    sid: str,
    *,
    dup: str | None = None,
    priority: str | None = None,
    escalations: tuple[str, ...] = (),
    incident: bool = False,
    text: str | None = None,
    at: datetime = T0,
) -> FeedbackTriaged:
    n = sum(map(ord, sid.partition("-")[2] or sid))  # the same item in either scenario
    fb = feedback(n).model_copy(
        update={"source_id": sid, "received_at": at, **({"text": text} if text else {})}
    )
    base = ENGINE.triage_batch([fb], at)[0]
    assert isinstance(base, FeedbackTriaged)
    tr = base.triage
    upd: dict[str, Any] = {"escalations": escalations, "incident": incident}
    if dup:
        upd.update(duplicate_of=f"web_form:{dup}", repeat_count=1, merge_reasons=("test",))
    if priority:
        # each priority its own deadlines, so the test sees which item's deadlines won
        hours = {"P1": 1, "P2": 4, "P3": 24, "P4": 72}[priority]
        due = at + timedelta(hours=hours, minutes=len(sid))
        upd.update(
            priority=priority,
            sla=tr.sla.model_copy(
                update={"acknowledge_by": due, "first_response_by": due, "resolve_by": due}
            ),
        )
    return base.model_copy(update={"feedback": fb, "triage": tr.model_copy(update=upd)})


def scenario(p: str) -> tuple[list[FeedbackTriaged], list[FeedbackTriaged]]:
    """Two batches: a first with the originals, a second mixing everything."""
    first = [
        item(f"{p}a", priority="P3"),
        item(f"{p}closed", priority="P3"),
        item(f"{p}b", priority="P4"),
    ]
    second = [
        item(f"{p}a"),  # redelivered
        item(f"{p}r1", dup=f"{p}a", priority="P3", escalations=("x1",)),
        item(f"{p}r2", dup=f"{p}a", priority="P1", escalations=("x2",), incident=True),
        item(f"{p}new", priority="P2"),
        item(f"{p}r3", dup=f"{p}a", priority="P1"),  # ties the P1: the first P1 keeps its deadlines
        item(f"{p}c1", dup=f"{p}closed", priority="P2"),  # closed: a new related ticket
        item(f"{p}n1", dup=f"{p}new", priority="P1"),  # repeat of a ticket opened in this batch
        item(f"{p}n2", dup=f"{p}n1", priority="P3"),  # repeat of that repeat: same ticket
        item(f"{p}c2", dup=f"{p}c1"),  # repeat of the related ticket opened in this batch
        item(f"{p}gone", dup=f"{p}quarantined"),  # original never stored: its own ticket
        item(f"{p}later", dup=f"{p}after"),  # original later in the batch: its own ticket
        item(f"{p}after"),
        item(f"{p}new"),  # twice in one batch
        item(f"{p}b2", dup=f"{p}b", priority="P2"),
    ]
    return first, second


def close(dsn: str, sid: str) -> None:
    with psycopg.connect(dsn) as c:
        c.execute("UPDATE tickets SET state = '已完成' WHERE source_id = %s", (sid,))


def state(dsn: str, p: str) -> dict[str, Any]:
    """Every ticket of a scenario by its first item, with what the sink wrote."""
    with psycopg.connect(dsn) as c:
        rows = c.execute(
            "SELECT t.source_id, t.priority, t.ack_due_at, t.resolve_due_at, t.repeat_count,"
            " t.escalations, t.incident, r.source_id, t.state,"
            " ARRAY(SELECT f.source_id || '/' || f.merged || '/' || coalesce(f.priority_before, '-')"
            "       FROM ticket_feedback f WHERE f.ticket_id = t.id ORDER BY f.seq),"
            " ARRAY(SELECT coalesce(e.from_state, '-') || '>' || e.to_state || ' ' || e.note"
            "       FROM ticket_events e WHERE e.ticket_id = t.id ORDER BY e.id)"
            " FROM tickets t LEFT JOIN tickets r ON r.id = t.related_to"
            " WHERE t.source_id LIKE %s",
            (f"{p}%",),
        ).fetchall()
    return {
        r[0].removeprefix(p): (*r[1:7], r[7] and r[7].removeprefix(p), r[8], *r[9:]) for r in rows
    }


def strip(d: dict[str, Any], p: str) -> dict[str, Any]:
    return {k: tuple(_unprefix(v, p) for v in vals) for k, vals in d.items()}


def _unprefix(v: Any, p: str) -> Any:
    if isinstance(v, list):
        return [str(x).replace(p, "") for x in v]
    return v


def test_a_batch_stores_what_item_by_item_writes_store(fresh_db: str) -> None:
    store = CrmStore(fresh_db, FMT, TZ)
    first, second = scenario("A-")
    assert store.write_batch(first, "g", {}) == (3, 0, 0)
    close(fresh_db, "A-closed")
    # 8 tickets: new, c1, gone, later, after; merged r1 r2 r3 n1 n2 c2 b2; skipped a, new
    assert store.write_batch(second, "g", {("t", 0): 14}) == (5, 7, 2)
    one = CrmStore(fresh_db, FMT, TZ)
    first_b, second_b = scenario("B-")
    for i in first_b:
        one.write_batch([i], "g1", {})
    close(fresh_db, "B-closed")
    got = [one.write_batch([i], "g1", {}) for i in second_b]
    assert tuple(map(sum, zip(*got, strict=True))) == (5, 7, 2)
    batch, single = strip(state(fresh_db, "A-"), "A-"), strip(state(fresh_db, "B-"), "B-")
    assert batch == single

    a = batch["a"]
    r2 = second[2].triage.sla
    # every repeat counted, the first P1 won with its deadlines, escalations in order
    assert a[:6] == ("P1", r2.acknowledge_by, r2.resolve_by, 3, ["x1", "x2"], True)
    assert a[8] == ["a/false/-", "r1/true/P3", "r2/true/P3", "r3/true/P1"]
    assert sum("merged duplicate" in e for e in a[9]) == 3
    assert batch["c1"][6] == "closed" and batch["c1"][8] == ["c1/false/-", "c2/true/P2"]
    assert batch["new"][0] == "P1" and batch["new"][3] == 2  # n1 raised it, n2 counted
    assert batch["new"][8] == ["new/false/-", "n1/true/P2", "n2/true/P1"]
    assert batch["b"][0] == "P2" and batch["b"][3] == 1
    assert {"gone", "later", "after"} <= set(batch)
    assert store.stored_offsets("g", [("t", 0)]) == {("t", 0): 14}


def test_a_refused_item_falls_back_per_item_and_numbers_stay_gap_free(fresh_db: str) -> None:
    with psycopg.connect(fresh_db, autocommit=True) as c:
        c.execute(
            "ALTER TABLE tickets ADD CONSTRAINT no_poison CHECK (content NOT LIKE '%POISON%')"
        )
    store = CrmStore(fresh_db, FMT, TZ)
    first, second = scenario("P-")
    assert store.write_batch(first, "g", {}) == (3, 0, 0)
    close(fresh_db, "P-closed")
    poison = item("P-poison", text="POISON 退款一直没到账")
    nul = item("P-nul", text="bad \x00 byte")  # refused by PostgreSQL's text type
    batch = [*second[:5], poison, *second[5:9], nul, *second[9:]]
    rejected: list[tuple[FeedbackTriaged, Exception]] = []
    got = store.write_batch(batch, "g", {("t", 0): 99}, on_rejected=rejected.extend)
    assert got == (5, 7, 2)
    assert [i.feedback.source_id for i, _ in rejected] == ["P-poison", "P-nul"]
    assert isinstance(rejected[0][1], psycopg.IntegrityError)
    assert isinstance(rejected[1][1], psycopg.DataError)
    assert store.stored_offsets("g", [("t", 0)]) == {("t", 0): 99}
    assert count(fresh_db, "SELECT count(*) FROM tickets") == 8
    # the same final state as the clean batch of the other test, minus the refused
    with psycopg.connect(fresh_db) as c:
        nos = sorted(r[0] for r in c.execute("SELECT ticket_no FROM tickets").fetchall())
    assert [int(n[-4:]) for n in nos] == list(range(1, 9))
    a = strip(state(fresh_db, "P-"), "P-")["a"]
    assert a[3] == 3 and a[0] == "P1"


def test_batches_of_many_writers_and_two_days_get_gap_free_numbers(fresh_db: str) -> None:
    yesterday = T0 - timedelta(days=1)
    items = [item(f"w{i}", at=yesterday if i % 3 == 0 else T0) for i in range(240)]
    errors: list[BaseException] = []

    def worker(k: int) -> None:
        store = CrmStore(fresh_db, FMT, TZ)
        try:
            mine = items[k::4]
            for j in range(0, len(mine), 15):
                store.write_batch(mine[j : j + 15], f"g{k}", {})
        except BaseException as exc:  # pragma: no cover - reported below
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
        rows = c.execute("SELECT ticket_no, submitted_at FROM tickets").fetchall()
    by_day: dict[str, list[int]] = {}
    for no, at in rows:
        assert no[3:11] == at.astimezone(TZ).strftime("%Y%m%d")
        by_day.setdefault(no[3:11], []).append(int(no[11:]))
    assert sorted(len(v) for v in by_day.values()) == [80, 160]
    assert all(sorted(v) == list(range(1, len(v) + 1)) for v in by_day.values())
