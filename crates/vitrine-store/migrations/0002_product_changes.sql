-- Change feed of the catalog: every insert or content change of a product appends its SKU with a
-- monotonically increasing sequence. Derived indexes (search, vectors) remember the last sequence they
-- applied and catch up from there, so they follow the catalog incrementally and survive restarts.
-- Writes are serialised through one connection, so sequences become visible in commit order.

CREATE TABLE product_changes (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    sku TEXT NOT NULL
);

CREATE TRIGGER products_change_insert AFTER INSERT ON products BEGIN
    INSERT INTO product_changes (sku) VALUES (new.sku);
END;

CREATE TRIGGER products_change_update AFTER UPDATE ON products BEGIN
    INSERT INTO product_changes (sku) VALUES (new.sku);
END;

INSERT INTO product_changes (sku) SELECT sku FROM products ORDER BY sku;

CREATE INDEX events_query ON events(type, seq) WHERE type = 'search';
