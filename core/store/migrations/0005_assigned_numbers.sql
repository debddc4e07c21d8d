-- Numbers a connector already told a customer, by item: a retried submission
-- (same Idempotency-Key, even after a connector restart) gets the same number.
CREATE TABLE assigned_numbers (
    source_key   text        PRIMARY KEY,
    feedback_no  text        NOT NULL UNIQUE,
    assigned_at  timestamptz NOT NULL DEFAULT now()
);
