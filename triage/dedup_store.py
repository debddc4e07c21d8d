"""PostgreSQL adapter for the dedup index. psycopg errors become StoreError."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

import psycopg

from core.errors import StoreError
from core.pg import PgConnection
from triage.ports import BurstEntry, IncidentUpdate
from triage.ports import DedupEntry as Row


class PostgresDedupStore:
    def __init__(self, dsn: str) -> None:
        self._pg = PgConnection(dsn, autocommit=True, what="dedup store")

    def _c(self) -> psycopg.Connection:
        return self._pg.get()

    def load(
        self, customer_keys: Sequence[str], source_keys: Sequence[str], since: datetime
    ) -> list[Row]:
        try:
            rows = (
                self._c()
                .execute(
                    "SELECT source_key, customer_key, root_key, received_at, digest, shingles, type,"
                    " repeat_count, incident, entities, topics FROM dedup_entries"
                    " WHERE (customer_key = ANY(%s) AND received_at >= %s) OR source_key = ANY(%s)"
                    " ORDER BY received_at, source_key",
                    (list(customer_keys), since, list(source_keys)),
                )
                .fetchall()
            )
        except psycopg.Error as exc:
            raise StoreError(f"dedup lookup failed: {exc}") from exc
        return [
            Row(
                r[0],
                r[1],
                r[2],
                r[3],
                r[4],
                frozenset(r[5]),
                r[6],
                r[7],
                r[8],
                frozenset(r[9]),
                frozenset(r[10]),
            )
            for r in rows
        ]

    def save(self, rows: Sequence[Row]) -> None:
        if not rows:
            return
        try:
            conn = self._c()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO dedup_entries (source_key, customer_key, root_key, received_at, digest,"
                    " shingles, type, repeat_count, incident, entities, topics)"
                    " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
                    " ON CONFLICT (source_key) DO NOTHING",
                    [
                        (
                            r.source_key,
                            r.customer_key,
                            r.root_key,
                            r.received_at,
                            r.digest,
                            sorted(r.shingles),
                            r.type,
                            r.repeat_count,
                            r.incident,
                            sorted(r.entities),
                            sorted(r.topics),
                        )
                        for r in rows
                    ],
                )
        except psycopg.Error as exc:
            raise StoreError(f"dedup save failed: {exc}") from exc

    def load_links(self, link_keys: Sequence[str]) -> dict[str, str]:
        if not link_keys:
            return {}
        try:
            rows = (
                self._c()
                .execute(
                    "SELECT link_key, person_key FROM identity_links WHERE link_key = ANY(%s)",
                    (list(link_keys),),
                )
                .fetchall()
            )
        except psycopg.Error as exc:
            raise StoreError(f"identity lookup failed: {exc}") from exc
        return {r[0]: r[1] for r in rows}

    def save_links(self, links: Sequence[tuple[str, str, datetime]]) -> None:
        """First writer wins the person (concurrent workers agree on it); a
        later sighting only moves last_seen, which retention reads."""
        if not links:
            return
        try:
            conn = self._c()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO identity_links AS l (link_key, person_key, last_seen)"
                    " VALUES (%s, %s, %s) ON CONFLICT (link_key) DO UPDATE"
                    " SET last_seen = GREATEST(l.last_seen, EXCLUDED.last_seen)",
                    sorted(links),
                )
        except psycopg.Error as exc:
            raise StoreError(f"identity save failed: {exc}") from exc

    def load_bursts(
        self, bands: Sequence[str], source_keys: Sequence[str], since: datetime
    ) -> list[BurstEntry]:
        try:
            rows = (
                self._c()
                .execute(
                    "SELECT source_key, who, received_at, bands, shingles, incident_key"
                    " FROM incident_bursts"
                    " WHERE (received_at >= %s AND bands && %s::text[]) OR source_key = ANY(%s)"
                    " ORDER BY received_at, source_key",
                    (since, list(bands), list(source_keys)),
                )
                .fetchall()
            )
        except psycopg.Error as exc:
            raise StoreError(f"burst lookup failed: {exc}") from exc
        return [BurstEntry(r[0], r[1], r[2], tuple(r[3]), frozenset(r[4]), r[5]) for r in rows]

    def save_bursts(self, rows: Sequence[BurstEntry], incidents: Sequence[IncidentUpdate]) -> int:
        """Insert the batch's burst rows and upsert its incidents in one
        transaction; concurrent workers merge member lists (ON CONFLICT)."""
        try:
            conn = self._c()
            with conn.transaction(), conn.cursor() as cur:
                cur.executemany(
                    "INSERT INTO incident_bursts (source_key, who, received_at, bands, shingles,"
                    " incident_key) VALUES (%s,%s,%s,%s,%s,%s) ON CONFLICT (source_key) DO NOTHING",
                    [
                        (
                            b.source_key,
                            b.who,
                            b.received_at,
                            list(b.bands),
                            sorted(b.shingles),
                            b.incident_key,
                        )
                        for b in rows
                    ],
                )
                created = 0
                for u in sorted(incidents):  # a fixed order: no deadlock between workers
                    cur.execute(
                        "INSERT INTO incidents AS i (incident_key, first_seen, last_seen,"
                        " member_keys, member_count, summary, p1)"
                        " VALUES (%s, %s, %s, %s, cardinality(%s::text[]), %s, %s)"
                        " ON CONFLICT (incident_key) DO UPDATE SET"
                        " first_seen = LEAST(i.first_seen, EXCLUDED.first_seen),"
                        " last_seen = GREATEST(i.last_seen, EXCLUDED.last_seen),"
                        " member_keys = ARRAY(SELECT DISTINCT unnest(i.member_keys"
                        " || EXCLUDED.member_keys) ORDER BY 1),"
                        " member_count = cardinality(ARRAY(SELECT DISTINCT unnest(i.member_keys"
                        " || EXCLUDED.member_keys))),"
                        " p1 = i.p1 OR EXCLUDED.p1"
                        " RETURNING (xmax = 0)",
                        (
                            u.incident_key,
                            u.first_seen,
                            u.last_seen,
                            list(u.member_keys),
                            list(u.member_keys),
                            u.summary,
                            u.p1,
                        ),
                    )
                    row = cur.fetchone()
                    created += 1 if row and row[0] else 0
                    # members seen before the incident existed belong to it now
                    cur.execute(
                        "UPDATE incident_bursts SET incident_key = %s"
                        " WHERE source_key = ANY(%s) AND incident_key IS NULL",
                        (u.incident_key, list(u.member_keys)),
                    )
        except psycopg.Error as exc:
            raise StoreError(f"incident save failed: {exc}") from exc
        return created

    def purge(self, dedup_before: datetime, bursts_before: datetime) -> int:
        """Retention: index rows older than the dedup window, burst rows older
        than the incident window go; the incidents themselves stay (records)."""
        try:
            conn = self._c()
            with conn.transaction():
                a = conn.execute(
                    "DELETE FROM dedup_entries WHERE received_at < %s", (dedup_before,)
                ).rowcount
                b = conn.execute(
                    "DELETE FROM incident_bursts WHERE received_at < %s", (bursts_before,)
                ).rowcount
                b += conn.execute(
                    "DELETE FROM identity_links WHERE last_seen < %s", (dedup_before,)
                ).rowcount
        except psycopg.Error as exc:
            raise StoreError(f"dedup purge failed: {exc}") from exc
        return a + b
