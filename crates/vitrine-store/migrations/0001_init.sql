-- Vitrine system of record, schema v1.
-- Money is stored as exact decimal TEXT; price_value is a REAL copy used only for filtering and sorting.
-- Times are INTEGER milliseconds since the Unix epoch (UTC).

CREATE TABLE catalog_versions (
    version     INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at  INTEGER NOT NULL,
    source      TEXT    NOT NULL,
    changed     INTEGER NOT NULL DEFAULT 0,
    unchanged   INTEGER NOT NULL DEFAULT 0,
    rejected    INTEGER NOT NULL DEFAULT 0,
    finished_at INTEGER
);

CREATE TABLE products (
    sku             TEXT PRIMARY KEY NOT NULL,
    title           TEXT NOT NULL,
    description     TEXT NOT NULL,
    brand           TEXT,
    category        TEXT NOT NULL,          -- JSON array of path segments
    category_path   TEXT NOT NULL,          -- segments joined by ' > ', for prefix filters
    attributes      TEXT NOT NULL,          -- JSON object of typed values
    price           TEXT NOT NULL,
    price_value     REAL NOT NULL,
    currency        TEXT NOT NULL,
    sale_price      TEXT,
    unit_cost       TEXT,
    quantity        INTEGER NOT NULL,
    backorder       INTEGER NOT NULL,
    restock_date    TEXT,
    images          TEXT NOT NULL,          -- JSON array
    status          TEXT NOT NULL,
    variant_group   TEXT,
    updated_at      INTEGER NOT NULL,       -- source system's change time
    recorded_at     INTEGER NOT NULL,       -- when Vitrine stored this content
    catalog_version INTEGER NOT NULL,
    fingerprint     INTEGER NOT NULL        -- content hash; unchanged re-imports are no-ops
);
CREATE INDEX products_category ON products(category_path);
CREATE INDEX products_brand ON products(brand);

-- Point-in-time history of what matters for pricing, caching and training snapshots.
CREATE TABLE price_history (
    sku             TEXT NOT NULL,
    valid_from      INTEGER NOT NULL,
    catalog_version INTEGER NOT NULL,
    price           TEXT NOT NULL,
    sale_price      TEXT,
    currency        TEXT NOT NULL
);
CREATE INDEX price_history_sku ON price_history(sku, valid_from);

CREATE TABLE inventory_history (
    sku             TEXT NOT NULL,
    valid_from      INTEGER NOT NULL,
    catalog_version INTEGER NOT NULL,
    quantity        INTEGER NOT NULL,
    backorder       INTEGER NOT NULL,
    restock_date    TEXT
);
CREATE INDEX inventory_history_sku ON inventory_history(sku, valid_from);

CREATE TRIGGER products_history_insert AFTER INSERT ON products BEGIN
    INSERT INTO price_history VALUES (new.sku, new.recorded_at, new.catalog_version, new.price, new.sale_price, new.currency);
    INSERT INTO inventory_history VALUES (new.sku, new.recorded_at, new.catalog_version, new.quantity, new.backorder, new.restock_date);
END;

CREATE TRIGGER products_price_update AFTER UPDATE ON products
WHEN old.price IS NOT new.price OR old.sale_price IS NOT new.sale_price OR old.currency IS NOT new.currency BEGIN
    INSERT INTO price_history VALUES (new.sku, new.recorded_at, new.catalog_version, new.price, new.sale_price, new.currency);
END;

CREATE TRIGGER products_inventory_update AFTER UPDATE ON products
WHEN old.quantity IS NOT new.quantity OR old.backorder IS NOT new.backorder OR old.restock_date IS NOT new.restock_date BEGIN
    INSERT INTO inventory_history VALUES (new.sku, new.recorded_at, new.catalog_version, new.quantity, new.backorder, new.restock_date);
END;

CREATE TABLE events (
    seq             INTEGER PRIMARY KEY,    -- arrival order
    event_id        TEXT NOT NULL UNIQUE,   -- idempotency key
    type            TEXT NOT NULL,
    user_id         TEXT,
    session_id      TEXT,
    product_id      TEXT,                   -- first product (the only one for most events)
    product_ids     TEXT,                   -- JSON array when the event names more than one
    quantity        INTEGER,
    price           TEXT,
    currency        TEXT,
    request_id      TEXT,
    position        INTEGER,
    query           TEXT,
    rating          INTEGER,
    review          TEXT,
    context         TEXT,                   -- JSON object, NULL when empty
    ts              INTEGER NOT NULL,
    received_at     INTEGER NOT NULL,
    unknown_product INTEGER NOT NULL        -- 1 when a named product was not in the catalog on arrival
);
CREATE INDEX events_user ON events(user_id) WHERE user_id IS NOT NULL;
CREATE INDEX events_session ON events(session_id) WHERE session_id IS NOT NULL;
-- No product_id index yet: nothing reads events by product at request time, and each index costs a
-- random B-tree insert per event. Later components add the indexes their queries need.

-- Derived per-shopper state (filled by later learning components); erased with the shopper.
CREATE TABLE user_profiles (
    user_id    TEXT PRIMARY KEY NOT NULL,
    profile    TEXT NOT NULL,
    updated_at INTEGER NOT NULL
);

-- Proof that an erasure happened, without keeping the erased id itself (only its SHA-256).
CREATE TABLE erasures (
    subject_sha256   TEXT NOT NULL,
    erased_at        INTEGER NOT NULL,
    events_deleted   INTEGER NOT NULL,
    profiles_deleted INTEGER NOT NULL
);
