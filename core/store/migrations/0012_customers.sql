-- Customer segments from CRM data (SPEC §4: never from text), imported with
-- `tingjian import customers FILE`: one row per contact key (the same keyed
-- hash triage computes), so a customer is found by phone, email or account.
-- Owner: crm (the import); read by triage.
CREATE TABLE customers (
    customer_key text        PRIMARY KEY,
    name         text,
    segment      text        NOT NULL CHECK (segment IN ('新客户', '老客户', '高价值客户', '流失客户')),
    source       text        NOT NULL,
    updated_at   timestamptz NOT NULL DEFAULT now()
);
