-- Governed product copy: every version of every product's copy, its audit trail, generation jobs (one row
-- per product so a job resumes exactly where it stopped) and the webhook outbox.

CREATE TABLE content_versions (
    product_id    TEXT NOT NULL,
    version       INTEGER NOT NULL,          -- 1, 2, … per product
    state         TEXT NOT NULL,             -- draft | in_review | approved | published | rejected | superseded
    copy          TEXT NOT NULL,             -- JSON sections
    report        TEXT NOT NULL,             -- JSON validation report
    confidence    REAL NOT NULL,
    attribution   TEXT NOT NULL,             -- JSON: backend, model, template, parameters, seed, input hash
    job_id        TEXT,
    based_on      INTEGER,                   -- the version a human edit started from
    created_by    TEXT NOT NULL,
    created_at    INTEGER NOT NULL,
    reviewed_by   TEXT,
    review_reason TEXT,
    PRIMARY KEY (product_id, version)
);
CREATE INDEX content_versions_state ON content_versions(state);

CREATE TABLE content_audit (
    seq        INTEGER PRIMARY KEY,
    product_id TEXT NOT NULL,
    version    INTEGER NOT NULL,
    from_state TEXT,
    to_state   TEXT NOT NULL,
    actor      TEXT NOT NULL,
    reason     TEXT,
    at         INTEGER NOT NULL
);
CREATE INDEX content_audit_product ON content_audit(product_id, seq);

CREATE TABLE content_jobs (
    id         TEXT PRIMARY KEY,
    spec       TEXT NOT NULL,                -- JSON: how products were chosen, candidates, keywords
    status     TEXT NOT NULL,                -- queued | running | done | failed
    total      INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    error      TEXT
);

CREATE TABLE content_job_items (
    job_id     TEXT NOT NULL,
    product_id TEXT NOT NULL,
    status     TEXT NOT NULL,                -- pending | done | failed
    attempts   INTEGER NOT NULL DEFAULT 0,
    version    INTEGER,
    error      TEXT,
    PRIMARY KEY (job_id, product_id)
);

CREATE TABLE webhook_outbox (
    seq             INTEGER PRIMARY KEY,
    payload         TEXT NOT NULL,
    attempts        INTEGER NOT NULL DEFAULT 0,
    next_attempt_at INTEGER NOT NULL,
    delivered_at    INTEGER,
    gave_up         INTEGER NOT NULL DEFAULT 0,
    last_error      TEXT
);
CREATE INDEX webhook_outbox_due ON webhook_outbox(next_attempt_at) WHERE delivered_at IS NULL AND gave_up = 0;

-- The review queue ranks by recent views and purchases per product.
CREATE INDEX events_product_type ON events(product_id, type, ts) WHERE product_id IS NOT NULL;
