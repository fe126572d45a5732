-- Recommendation loop: what was shown (with the features and propensities it was ranked with), what it
-- earned, and the registry of trained model versions.

CREATE TABLE rec_impressions (
    request_id    TEXT PRIMARY KEY,
    surface       TEXT NOT NULL,
    user_id       TEXT,
    session_id    TEXT,
    items         TEXT NOT NULL,   -- JSON array of product ids, shown order
    detail        TEXT NOT NULL,   -- JSON: per item propensity, sources, features; model version, context
    model_version INTEGER,
    ts            INTEGER NOT NULL
);
CREATE INDEX rec_impressions_ts ON rec_impressions (ts);
CREATE INDEX rec_impressions_user ON rec_impressions (user_id, ts);

CREATE TABLE rec_rewards (
    event_id    TEXT NOT NULL,      -- the outcome event
    request_id  TEXT NOT NULL,      -- the impression it is attributed to
    product_id  TEXT NOT NULL,
    position    INTEGER,
    outcome     TEXT NOT NULL,      -- click, add_to_cart, purchase, return, review
    value       REAL NOT NULL,
    attribution TEXT NOT NULL,      -- request_id | window
    ts          INTEGER NOT NULL,
    PRIMARY KEY (event_id, product_id)
);
CREATE INDEX rec_rewards_request ON rec_rewards (request_id);

CREATE TABLE rec_models (
    version     INTEGER PRIMARY KEY,
    created_at  INTEGER NOT NULL,
    manifest    TEXT NOT NULL,      -- JSON: training window, feature schema, offline metrics, files
    path        TEXT NOT NULL
);

CREATE TABLE rec_active_model (
    id          INTEGER PRIMARY KEY CHECK (id = 1),
    version     INTEGER NOT NULL REFERENCES rec_models (version),
    changed_at  INTEGER NOT NULL,
    previous    INTEGER
);
