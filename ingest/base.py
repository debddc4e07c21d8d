"""The pull-source base every connector that fetches (email, social, import)
is built on, written once:

    seen-set -> partition key -> acknowledged send -> checkpoint -> metrics

A connector turns what it fetched into ``Candidate`` s (an item to produce, a
dead letter, or something to skip) and calls ``publish``. Candidates whose keys
the seen-set already holds are duplicates; the rest go to Kafka; only after
Kafka acknowledged every write do the checkpoint and the new keys move, in one
PostgreSQL transaction. A crash in between repeats work (absorbed downstream by
the unique source id), never skips it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from core.kafka import Outgoing
from core.metrics import INGEST_ITEMS, Connector
from core.privacy import partition_key
from ingest.checkpoints import CheckpointStore
from models import DeadLetter, FeedbackReceived, Topics

# Sends and returns once Kafka acknowledged every message (raises TransportError).
Send = Callable[[Sequence[Outgoing]], object]


@dataclass(frozen=True)
class Candidate:
    """One thing a connector fetched. ``keys`` are its seen-set keys (the first
    keys its messages); with neither ``item`` nor ``dead_letter`` it is skipped
    and counted under ``outcome`` (auto_reply, bounce, bulk, rejected_empty)."""

    keys: tuple[str, ...]
    item: FeedbackReceived | None = None
    dead_letter: DeadLetter | None = None
    outcome: str = "produced"


@dataclass(frozen=True)
class Published:
    produced: int = 0
    dead_lettered: int = 0
    duplicates: int = 0
    skipped: int = 0


class PullSource:
    connector: Connector

    def __init__(
        self, checkpoints: CheckpointStore, send: Send, topics: Topics, hash_key: str
    ) -> None:
        self.checkpoints, self.send, self.topics, self.hash_key = (
            checkpoints,
            send,
            topics,
            hash_key,
        )

    def count(self, outcome: str, n: int = 1) -> None:
        if n:
            INGEST_ITEMS.labels(self.connector, outcome).inc(n)

    def publish(
        self, candidates: Sequence[Candidate], checkpoint: tuple[str, Any] | None = None
    ) -> Published:
        """Produce what is new, then move ``checkpoint`` (key, value) and the seen-set."""
        seen = self.checkpoints.seen([k for c in candidates for k in c.keys])
        fresh: list[str] = []
        fresh_set: set[str] = set()
        outs: list[Outgoing] = []
        produced = dead = dups = skipped = 0
        for c in candidates:
            self.count("received")
            if any(k in seen or k in fresh_set for k in c.keys):
                dups += 1
                continue
            new = [k for k in dict.fromkeys(c.keys)]
            fresh += new
            fresh_set.update(new)
            if c.item is not None:
                outs.append(
                    Outgoing(
                        self.topics.received,
                        partition_key(c.item, self.hash_key),
                        c.item.model_dump_json().encode(),
                    )
                )
                produced += 1
            elif c.dead_letter is not None:
                outs.append(
                    Outgoing(
                        self.topics.dlq,
                        c.keys[0].encode(),
                        c.dead_letter.model_dump_json().encode(),
                    )
                )
                dead += 1
                self.count(c.outcome)
            else:
                skipped += 1
                self.count(c.outcome)
        self.send(outs)  # raises TransportError: nothing below runs, the work is redone
        key, value = checkpoint if checkpoint is not None else (None, None)
        self.checkpoints.commit(key, value, fresh)
        self.count("duplicate", dups)
        self.count("produced", produced)
        return Published(produced, dead, dups, skipped)
