-- The CRM side after triage (SPEC §7): lifecycle columns are written by crm/
-- (the ticket API), triage columns by sinks/crm. version moves with every
-- change crm/ makes, so a stale copy is refused (409), never a lost update.
ALTER TABLE tickets ADD COLUMN version integer NOT NULL DEFAULT 0;
ALTER TABLE tickets ADD COLUMN acknowledged_at timestamptz;
ALTER TABLE tickets ADD COLUMN first_response_at timestamptz;
CREATE INDEX tickets_department_state ON tickets (department, state);
CREATE INDEX tickets_needs_review ON tickets (needs_review) WHERE needs_review;

-- What kind of event: a state change, a note (a progress update for the SLA),
-- a satisfaction answer, a label correction, an assignment.
ALTER TABLE ticket_events ADD COLUMN kind text NOT NULL DEFAULT 'state';

-- API tokens: only the sha256 of a token is stored; it is shown once.
CREATE TABLE api_tokens (
    id           bigserial   PRIMARY KEY,
    name         text        NOT NULL,
    role         text        NOT NULL CHECK (role IN ('agent', 'lead', 'admin')),
    department   text,
    token_sha256 text        NOT NULL UNIQUE,
    created_at   timestamptz NOT NULL DEFAULT now(),
    revoked_at   timestamptz
);

-- Agents' label corrections with the model's original labels, for the data team.
CREATE TABLE label_corrections (
    id           bigserial   PRIMARY KEY,
    ticket_id    bigint      NOT NULL REFERENCES tickets (id),
    at           timestamptz NOT NULL DEFAULT now(),
    actor        text        NOT NULL,
    model_version text       NOT NULL,
    original     jsonb       NOT NULL,
    corrected    jsonb       NOT NULL
);
CREATE INDEX label_corrections_at ON label_corrections (at);
