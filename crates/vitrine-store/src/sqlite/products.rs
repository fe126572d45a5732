//! Catalog writes and reads. Upserts compare a content fingerprint so a nightly full feed only writes what
//! actually changed; price and stock history rows come from triggers (see the migration).

use super::{now_ms, rows, SqliteStore};
use crate::{
    PatchOutcome, PricePoint, ProductChange, ProductHistory, ProductPage, ProductQuery, Result,
    StockPoint, StoreError, UpsertOutcome,
};
use chrono::{DateTime, Utc};
use rust_decimal::prelude::ToPrimitive;
use sqlx::{QueryBuilder, Row, Sqlite, SqliteConnection, SqlitePool};
use vitrine_core::{Product, ProductPatch};

/// Rows per INSERT statement (22 parameters each).
const ROWS_PER_STATEMENT: usize = 500;

pub(super) async fn upsert(
    pool: &SqlitePool,
    version: i64,
    items: &[Product],
) -> Result<UpsertOutcome> {
    if items.is_empty() {
        return Ok(UpsertOutcome::default());
    }
    let mut tx = pool.begin().await?;
    let changed = upsert_rows(&mut tx, version, items).await?;
    tx.commit().await?;
    Ok(UpsertOutcome {
        changed,
        unchanged: items.len() as u64 - changed,
    })
}

/// Writes products on an open connection/transaction; returns how many were inserted or changed.
async fn upsert_rows(conn: &mut SqliteConnection, version: i64, items: &[Product]) -> Result<u64> {
    let recorded = now_ms();
    let mut changed = 0u64;
    for chunk in items.chunks(ROWS_PER_STATEMENT) {
        let mut qb: QueryBuilder<Sqlite> = QueryBuilder::new(
            "INSERT INTO products (sku, title, description, brand, category, category_path, attributes, price, \
             price_value, currency, sale_price, unit_cost, quantity, backorder, restock_date, images, status, \
             variant_group, updated_at, recorded_at, catalog_version, fingerprint) ",
        );
        qb.push_values(chunk, |mut b, p| {
            b.push_bind(&p.id)
                .push_bind(&p.title)
                .push_bind(&p.description)
                .push_bind(&p.brand)
                .push_bind(serde_json::to_string(&p.category).unwrap_or_else(|_| "[]".into()))
                .push_bind(p.category.join(" > "))
                .push_bind(serde_json::to_string(&p.attributes).unwrap_or_else(|_| "{}".into()))
                .push_bind(p.price.normalize().to_string())
                .push_bind(p.effective_price().to_f64().unwrap_or(0.0))
                .push_bind(p.currency.to_string())
                .push_bind(p.sale_price.map(|d| d.normalize().to_string()))
                .push_bind(p.unit_cost.map(|d| d.normalize().to_string()))
                .push_bind(p.inventory.quantity)
                .push_bind(p.inventory.backorder)
                .push_bind(p.inventory.restock_date.map(|d| d.to_string()))
                .push_bind(serde_json::to_string(&p.images).unwrap_or_else(|_| "[]".into()))
                .push_bind(p.status.as_str())
                .push_bind(&p.variant_group)
                .push_bind(p.updated_at.timestamp_millis())
                .push_bind(recorded)
                .push_bind(version)
                .push_bind(p.content_fingerprint() as i64);
        });
        qb.push(
            " ON CONFLICT(sku) DO UPDATE SET title=excluded.title, description=excluded.description, \
             brand=excluded.brand, category=excluded.category, category_path=excluded.category_path, \
             attributes=excluded.attributes, price=excluded.price, price_value=excluded.price_value, \
             currency=excluded.currency, sale_price=excluded.sale_price, unit_cost=excluded.unit_cost, \
             quantity=excluded.quantity, backorder=excluded.backorder, restock_date=excluded.restock_date, \
             images=excluded.images, status=excluded.status, variant_group=excluded.variant_group, \
             updated_at=excluded.updated_at, recorded_at=excluded.recorded_at, \
             catalog_version=excluded.catalog_version, fingerprint=excluded.fingerprint \
             WHERE products.fingerprint <> excluded.fingerprint",
        );
        changed += qb.build().execute(&mut *conn).await?.rows_affected();
    }
    Ok(changed)
}

/// Read-modify-write in one write transaction, so a concurrent price PATCH and stock PATCH of the same
/// product both land instead of one silently overwriting the other.
pub(super) async fn patch(
    store: &SqliteStore,
    id: &str,
    patch: &ProductPatch,
) -> Result<Option<PatchOutcome>> {
    let mut tx = store.write.begin().await?;
    let row = sqlx::query(&format!(
        "SELECT {} FROM products WHERE sku = ?",
        rows::PRODUCT_COLUMNS
    ))
    .bind(id)
    .fetch_optional(&mut *tx)
    .await?;
    let Some(current) = row.map(|r| rows::product_from_row(&r)).transpose()? else {
        return Ok(None);
    };
    let updated = patch
        .apply(&current, Utc::now())
        .map_err(StoreError::Invalid)?;
    if updated.content_fingerprint() == current.content_fingerprint() {
        return Ok(Some(PatchOutcome {
            product: current,
            catalog_version: None,
        }));
    }
    let now = now_ms();
    let (version,): (i64,) = sqlx::query_as(
        "INSERT INTO catalog_versions (created_at, source, changed, finished_at) VALUES (?, 'api:patch', 1, ?) \
         RETURNING version",
    )
    .bind(now)
    .bind(now)
    .fetch_one(&mut *tx)
    .await?;
    upsert_rows(&mut tx, version, std::slice::from_ref(&updated)).await?;
    tx.commit().await?;
    Ok(Some(PatchOutcome {
        product: updated,
        catalog_version: Some(version),
    }))
}

pub(super) async fn get(pool: &SqlitePool, id: &str) -> Result<Option<Product>> {
    let row = sqlx::query(&format!(
        "SELECT {} FROM products WHERE sku = ?",
        rows::PRODUCT_COLUMNS
    ))
    .bind(id)
    .fetch_optional(pool)
    .await?;
    row.map(|r| rows::product_from_row(&r)).transpose()
}

pub(super) async fn changes_since(
    pool: &SqlitePool,
    after_seq: i64,
    limit: u32,
) -> Result<Vec<ProductChange>> {
    let rows = sqlx::query(
        "SELECT p.*, c.seq AS change_seq FROM product_changes c JOIN products p ON p.sku = c.sku \
         WHERE c.seq > ? ORDER BY c.seq LIMIT ?",
    )
    .bind(after_seq)
    .bind(limit)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(ProductChange {
                seq: r.try_get("change_seq")?,
                product: rows::product_from_row(r)?,
            })
        })
        .collect()
}

fn push_filters(qb: &mut QueryBuilder<'_, Sqlite>, q: &ProductQuery) {
    qb.push(" WHERE 1=1");
    if let Some(c) = q
        .category
        .as_deref()
        .map(str::trim)
        .filter(|c| !c.is_empty())
    {
        let c = c
            .split(['>', '/'])
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" > ");
        qb.push(" AND (category_path = ").push_bind(c.clone());
        qb.push(" OR substr(category_path, 1, length(")
            .push_bind(format!("{c} > "));
        qb.push(")) = ").push_bind(format!("{c} > ")).push(")");
    }
    if let Some(b) = &q.brand {
        qb.push(" AND brand = ").push_bind(b.clone());
    }
    if let Some(s) = &q.status {
        qb.push(" AND status = ").push_bind(s.clone());
    }
    match q.in_stock {
        Some(true) => {
            qb.push(" AND (quantity > 0 OR backorder = 1)");
        }
        Some(false) => {
            qb.push(" AND quantity <= 0 AND backorder = 0");
        }
        None => {}
    }
    if let Some(min) = q.min_price {
        qb.push(" AND price_value >= ")
            .push_bind(min.to_f64().unwrap_or(0.0));
    }
    if let Some(max) = q.max_price {
        qb.push(" AND price_value <= ")
            .push_bind(max.to_f64().unwrap_or(f64::MAX));
    }
    if let Some(t) = q.title_contains.as_deref().filter(|t| !t.is_empty()) {
        qb.push(" AND instr(lower(title), ")
            .push_bind(t.to_lowercase())
            .push(") > 0");
    }
}

pub(super) async fn list(pool: &SqlitePool, q: &ProductQuery) -> Result<ProductPage> {
    let mut count: QueryBuilder<Sqlite> = QueryBuilder::new("SELECT COUNT(*) FROM products");
    push_filters(&mut count, q);
    let (total,): (i64,) = count.build_query_as().fetch_one(pool).await?;

    let mut qb: QueryBuilder<Sqlite> =
        QueryBuilder::new(format!("SELECT {} FROM products", rows::PRODUCT_COLUMNS));
    push_filters(&mut qb, q);
    if let Some(after) = &q.after {
        qb.push(" AND sku > ").push_bind(after.clone());
    }
    let limit = q.limit.max(1);
    qb.push(" ORDER BY sku LIMIT ")
        .push_bind(i64::from(limit) + 1);
    let fetched = qb.build().fetch_all(pool).await?;
    let mut items = fetched
        .iter()
        .map(rows::product_from_row)
        .collect::<Result<Vec<_>>>()?;
    let next_cursor = if items.len() > limit as usize {
        items.truncate(limit as usize);
        items.last().map(|p| p.id.clone())
    } else {
        None
    };
    Ok(ProductPage {
        items,
        total: total as u64,
        next_cursor,
    })
}

fn price_point(r: &sqlx::sqlite::SqliteRow) -> Result<PricePoint> {
    Ok(PricePoint {
        valid_from: rows::ms_to_time(r.try_get("valid_from")?),
        catalog_version: r.try_get("catalog_version")?,
        price: rows::decimal("price", &r.try_get::<String, _>("price")?)?,
        sale_price: rows::opt_decimal("sale_price", r.try_get("sale_price")?)?,
        currency: rows::currency(&r.try_get::<String, _>("currency")?)?,
    })
}

fn stock_point(r: &sqlx::sqlite::SqliteRow) -> Result<StockPoint> {
    Ok(StockPoint {
        valid_from: rows::ms_to_time(r.try_get("valid_from")?),
        catalog_version: r.try_get("catalog_version")?,
        quantity: r.try_get("quantity")?,
        backorder: r.try_get("backorder")?,
        restock_date: rows::date(r.try_get("restock_date")?)?,
    })
}

pub(super) async fn price_at(
    pool: &SqlitePool,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Option<PricePoint>> {
    let row = sqlx::query(
        "SELECT * FROM price_history WHERE sku = ? AND valid_from <= ? ORDER BY valid_from DESC, rowid DESC LIMIT 1",
    )
    .bind(id)
    .bind(at.timestamp_millis())
    .fetch_optional(pool)
    .await?;
    row.map(|r| price_point(&r)).transpose()
}

pub(super) async fn inventory_at(
    pool: &SqlitePool,
    id: &str,
    at: DateTime<Utc>,
) -> Result<Option<StockPoint>> {
    let row = sqlx::query(
        "SELECT * FROM inventory_history WHERE sku = ? AND valid_from <= ? ORDER BY valid_from DESC, rowid DESC LIMIT 1",
    )
    .bind(id)
    .bind(at.timestamp_millis())
    .fetch_optional(pool)
    .await?;
    row.map(|r| stock_point(&r)).transpose()
}

pub(super) async fn history(pool: &SqlitePool, id: &str) -> Result<ProductHistory> {
    let prices =
        sqlx::query("SELECT * FROM price_history WHERE sku = ? ORDER BY valid_from, rowid")
            .bind(id)
            .fetch_all(pool)
            .await?;
    let stock =
        sqlx::query("SELECT * FROM inventory_history WHERE sku = ? ORDER BY valid_from, rowid")
            .bind(id)
            .fetch_all(pool)
            .await?;
    Ok(ProductHistory {
        prices: prices.iter().map(price_point).collect::<Result<_>>()?,
        inventory: stock.iter().map(stock_point).collect::<Result<_>>()?,
    })
}
