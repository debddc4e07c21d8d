-- The CRM store: 反馈处理记录表 (SPEC §8) and what exactly-once needs.

CREATE TABLE tickets (
    id                    bigserial PRIMARY KEY,
    ticket_no             text        NOT NULL UNIQUE,           -- 反馈编号
    channel               text        NOT NULL,                  -- 反馈渠道
    source_id             text        NOT NULL,
    submitted_at          timestamptz NOT NULL,                  -- 提交时间
    registered_at         timestamptz NOT NULL DEFAULT now(),
    customer_name         text,                                  -- 客户信息 (internal only)
    customer_phone        text,
    customer_email        text,
    customer_account      text,
    customer_segment      text,
    customer_key          text,                                  -- keyed hash, for dedup and reports
    subject               text,
    content               text        NOT NULL,                  -- full original content
    normalized_text       text        NOT NULL,
    summary               text        NOT NULL,                  -- 内容摘要
    type                  text        NOT NULL CHECK (type IN ('bug','ux','suggestion','complaint','inquiry','praise','spam')),
    priority              text        NOT NULL CHECK (priority IN ('P1','P2','P3','P4')),
    sentiment             text        NOT NULL CHECK (sentiment IN ('negative','neutral','positive')),
    sentiment_score       real        NOT NULL,
    topics                text[]      NOT NULL DEFAULT '{}',
    keywords              text[]      NOT NULL DEFAULT '{}',
    department            text        NOT NULL,                  -- 处理责任部门
    assignee              text,                                  -- 处理责任人
    state                 text        NOT NULL DEFAULT '新建',    -- 处理进展
    solution              text,                                  -- 解决方案/结果
    satisfaction          text,                                  -- 客户满意度
    type_confidence       real        NOT NULL,
    priority_confidence   real        NOT NULL,
    needs_review          boolean     NOT NULL DEFAULT false,
    model_version         text        NOT NULL,
    escalations           text[]      NOT NULL DEFAULT '{}',
    repeat_count          integer     NOT NULL DEFAULT 0,
    incident              boolean     NOT NULL DEFAULT false,
    ack_due_at            timestamptz NOT NULL,
    first_response_due_at timestamptz,
    resolve_due_at        timestamptz,
    update_every_hours    integer,
    queue                 text,
    entities              jsonb       NOT NULL DEFAULT '{}',
    attachments           jsonb       NOT NULL DEFAULT '[]',
    metadata              jsonb       NOT NULL DEFAULT '{}',
    resolved_at           timestamptz,
    archived_at           timestamptz,                           -- 归档日期
    UNIQUE (channel, source_id)
);
CREATE INDEX tickets_customer_key ON tickets (customer_key) WHERE customer_key IS NOT NULL;
CREATE INDEX tickets_submitted_at ON tickets (submitted_at);

-- Every feedback item that reached the store, first or merged (SPEC §9): the
-- (channel, source_id) key is what makes a redelivered message a no-op.
CREATE TABLE ticket_feedback (
    ticket_id    bigint      NOT NULL REFERENCES tickets (id),
    channel      text        NOT NULL,
    source_id    text        NOT NULL,
    received_at  timestamptz NOT NULL,
    content      text        NOT NULL,
    merged       boolean     NOT NULL,
    stored_at    timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (channel, source_id)
);
CREATE INDEX ticket_feedback_ticket ON ticket_feedback (ticket_id);

-- State changes with time and actor (SPEC §7), so handling time and SLA
-- breaches can be computed.
CREATE TABLE ticket_events (
    id          bigserial   PRIMARY KEY,
    ticket_id   bigint      NOT NULL REFERENCES tickets (id),
    at          timestamptz NOT NULL DEFAULT now(),
    actor       text        NOT NULL,
    from_state  text,
    to_state    text        NOT NULL,
    note        text
);
CREATE INDEX ticket_events_ticket ON ticket_events (ticket_id);

-- Daily feedback-number sequence. The row lock taken by the upsert serialises
-- concurrent sink workers for the same day and rolls back with their batch, so
-- numbers are unique and gap-free.
CREATE TABLE ticket_sequences (
    day       date    PRIMARY KEY,
    last_seq  integer NOT NULL
);

-- Kafka offsets written in the same transaction as the tickets they produced.
CREATE TABLE sink_offsets (
    consumer_group text        NOT NULL,
    topic          text        NOT NULL,
    partition      integer     NOT NULL,
    next_offset    bigint      NOT NULL,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (consumer_group, topic, partition)
);
