//! The item table: every product the recommender may know, by dense index, with what ranking and rules need
//! (category, brand, price, margin, stock). Built from the store and kept current from its change feed.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use vitrine_core::{Product, ProductStatus};

/// Dense item index; stable for the life of the process (a product keeps its index when it changes).
pub type ItemId = u32;

/// What the recommender knows about a product.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ItemMeta {
    /// Catalog id (SKU).
    pub sku: String,
    /// Category path joined with ` > ` (empty when unknown).
    pub category: String,
    /// Brand, lower-cased (empty when unknown).
    pub brand: String,
    /// Effective (sale) price in the product's currency.
    pub price: f64,
    /// Unit margin (price − cost); `None` when the cost is unknown.
    pub margin: Option<f64>,
    /// Units on hand.
    pub stock: i64,
    /// Sellable while out of stock.
    pub backorder: bool,
    /// Active (not archived).
    pub active: bool,
}

impl ItemMeta {
    /// From a catalog product.
    pub fn from_product(p: &Product) -> Self {
        use rust_decimal::prelude::ToPrimitive;
        Self {
            sku: p.id.clone(),
            category: p.category.join(" > "),
            brand: p.brand.clone().unwrap_or_default().to_lowercase(),
            price: p.effective_price().to_f64().unwrap_or(0.0),
            margin: p.unit_margin().and_then(|m| m.to_f64()),
            stock: p.inventory.quantity,
            backorder: p.inventory.backorder,
            active: p.status == ProductStatus::Active,
        }
    }

    /// Can be bought now or on backorder.
    pub fn available(&self) -> bool {
        self.stock > 0 || self.backorder
    }

    /// Margin, or a 30 % share of the price when the cost is unknown (a neutral assumption for blending).
    pub fn margin_or_default(&self) -> f64 {
        self.margin.unwrap_or(self.price * 0.3)
    }

    /// Whether the category path is `prefix` or below it (case-insensitive).
    pub fn in_category(&self, prefix: &str) -> bool {
        let (c, p) = (self.category.to_lowercase(), prefix.trim().to_lowercase());
        c == p || c.starts_with(&format!("{p} >"))
    }
}

/// All known items, by dense index and by SKU.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ItemTable {
    items: Vec<ItemMeta>,
    by_sku: HashMap<String, ItemId>,
}

impl ItemTable {
    /// Inserts or updates a product; returns its index.
    pub fn upsert(&mut self, meta: ItemMeta) -> ItemId {
        if let Some(&id) = self.by_sku.get(&meta.sku) {
            self.items[id as usize] = meta;
            return id;
        }
        let id = self.items.len() as ItemId;
        self.by_sku.insert(meta.sku.clone(), id);
        self.items.push(meta);
        id
    }

    /// Index of a SKU.
    pub fn id(&self, sku: &str) -> Option<ItemId> {
        self.by_sku.get(sku).copied()
    }

    /// Metadata of an index.
    pub fn get(&self, id: ItemId) -> Option<&ItemMeta> {
        self.items.get(id as usize)
    }

    /// Number of items (including archived ones, which keep their index).
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// True before any product arrived.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// Active items.
    pub fn active_count(&self) -> usize {
        self.items.iter().filter(|m| m.active).count()
    }

    /// Iterates `(index, meta)`.
    pub fn iter(&self) -> impl Iterator<Item = (ItemId, &ItemMeta)> {
        self.items.iter().enumerate().map(|(i, m)| (i as ItemId, m))
    }
}
