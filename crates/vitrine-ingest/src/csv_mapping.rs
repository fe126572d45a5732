//! CSV import through a column-mapping file, so any shop export (Shopify, Myntra, a spreadsheet) can be
//! loaded without preprocessing. The mapping turns each row into the native JSON shape, which then goes
//! through exactly the same validation as JSONL and HTTP.
//!
//! ```toml
//! [columns]            # native field = CSV header
//! id = "ProductID"
//! title = "ProductName"
//! price = "Price (INR)"
//! [defaults]           # constants for fields the CSV lacks
//! currency = "INR"
//! [attributes]         # attribute name = header, or { column = "...", type = "number" | "boolean" | "list" | "text", unit = "kg" }
//! colour = "PrimaryColor"
//! ```

use crate::IngestError;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Native fields a CSV column can map to.
const FIELDS: &[&str] = &[
    "id",
    "title",
    "description",
    "brand",
    "category",
    "price",
    "currency",
    "sale_price",
    "unit_cost",
    "quantity",
    "backorder",
    "restock_date",
    "images",
    "status",
    "updated_at",
    "variant_group",
];

/// How one attribute is read from its column.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum AttributeColumn {
    /// Just the header; the value is text.
    Header(String),
    /// Header plus type (and unit for numbers).
    Typed {
        /// CSV header.
        column: String,
        /// `text` (default), `number`, `boolean`, `list`.
        #[serde(default, rename = "type")]
        kind: Option<String>,
        /// Unit attached to numbers.
        #[serde(default)]
        unit: Option<String>,
    },
}

/// Parsing options.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvOptions {
    /// Field delimiter, one ASCII character.
    #[serde(default = "default_delimiter")]
    pub delimiter: char,
    /// Separator inside list cells (images, list attributes).
    #[serde(default = "default_list_separator")]
    pub list_separator: String,
}

fn default_delimiter() -> char {
    ','
}
fn default_list_separator() -> String {
    "|".into()
}

impl Default for CsvOptions {
    fn default() -> Self {
        Self {
            delimiter: default_delimiter(),
            list_separator: default_list_separator(),
        }
    }
}

/// A column-mapping file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvMapping {
    /// Native field → CSV header.
    pub columns: BTreeMap<String, String>,
    /// Native field → constant value, used when the column is absent or the cell empty.
    #[serde(default)]
    pub defaults: BTreeMap<String, String>,
    /// Attribute name → column.
    #[serde(default)]
    pub attributes: BTreeMap<String, AttributeColumn>,
    /// Parsing options.
    #[serde(default)]
    pub options: CsvOptions,
}

/// A mapping resolved against one file's header row.
#[derive(Debug)]
pub struct BoundMapping {
    fields: Vec<(String, Option<usize>, Option<String>)>,
    attributes: Vec<(String, usize, String, Option<String>)>,
    list_separator: String,
}

impl CsvMapping {
    /// Reads a mapping from TOML text, refusing unknown native fields so typos fail loudly.
    pub fn from_toml(text: &str) -> Result<Self, IngestError> {
        let m: CsvMapping =
            toml::from_str(text).map_err(|e| IngestError::Mapping(e.to_string()))?;
        for f in m.columns.keys().chain(m.defaults.keys()) {
            if !FIELDS.contains(&f.as_str()) {
                return Err(IngestError::Mapping(format!(
                    "unknown product field {f:?}; mappable fields are {}",
                    FIELDS.join(", ")
                )));
            }
        }
        for f in ["id", "title", "price"] {
            if !m.columns.contains_key(f) {
                return Err(IngestError::Mapping(format!("[columns] must map {f:?}")));
            }
        }
        if !m.columns.contains_key("currency") && !m.defaults.contains_key("currency") {
            return Err(IngestError::Mapping(
                "map a currency column or set [defaults] currency".into(),
            ));
        }
        if !m.options.delimiter.is_ascii() {
            return Err(IngestError::Mapping(
                "options.delimiter must be one ASCII character".into(),
            ));
        }
        Ok(m)
    }

    /// Resolves headers to column positions; a mapped header missing from the file is an error up front.
    pub fn bind(&self, headers: &csv::StringRecord) -> Result<BoundMapping, IngestError> {
        let find = |name: &str| -> Result<usize, IngestError> {
            headers
                .iter()
                .position(|h| h.trim().trim_start_matches('\u{feff}') == name)
                .ok_or_else(|| {
                    IngestError::Mapping(format!(
                        "column {name:?} is not in the CSV header (found: {})",
                        headers.iter().collect::<Vec<_>>().join(", ")
                    ))
                })
        };
        let mut fields = Vec::new();
        for f in FIELDS {
            let col = self.columns.get(*f).map(|h| find(h)).transpose()?;
            let default = self.defaults.get(*f).cloned();
            if col.is_some() || default.is_some() {
                fields.push((f.to_string(), col, default));
            }
        }
        let mut attributes = Vec::new();
        for (name, spec) in &self.attributes {
            let (column, kind, unit) = match spec {
                AttributeColumn::Header(h) => (h.clone(), "text".to_string(), None),
                AttributeColumn::Typed { column, kind, unit } => (
                    column.clone(),
                    kind.clone().unwrap_or_else(|| "text".into()),
                    unit.clone(),
                ),
            };
            if !["text", "number", "boolean", "list"].contains(&kind.as_str()) {
                return Err(IngestError::Mapping(format!(
                    "attribute {name:?}: type must be text, number, boolean or list, not {kind:?}"
                )));
            }
            attributes.push((name.clone(), find(&column)?, kind, unit));
        }
        Ok(BoundMapping {
            fields,
            attributes,
            list_separator: self.options.list_separator.clone(),
        })
    }
}

impl BoundMapping {
    /// Turns one CSV row into the native JSON record. Cells are trimmed; empty cells count as absent.
    pub fn to_json(&self, row: &csv::StringRecord) -> Value {
        let mut obj = Map::new();
        for (field, col, default) in &self.fields {
            let cell = col
                .and_then(|c| row.get(c))
                .map(str::trim)
                .filter(|s| !s.is_empty());
            let Some(text) = cell.map(str::to_string).or_else(|| default.clone()) else {
                continue;
            };
            let value = match field.as_str() {
                "quantity" => {
                    let q = text
                        .parse::<i64>()
                        .map(Value::from)
                        .unwrap_or(Value::String(text));
                    let inv = obj
                        .entry("inventory")
                        .or_insert_with(|| Value::Object(Map::new()));
                    inv["quantity"] = q;
                    continue;
                }
                "backorder" | "restock_date" => {
                    let v = if field == "backorder" {
                        parse_bool(&text)
                    } else {
                        Value::String(text)
                    };
                    let inv = obj
                        .entry("inventory")
                        .or_insert_with(|| Value::Object(Map::new()));
                    inv[field.as_str()] = v;
                    continue;
                }
                "images" => Value::Array(self.split_list(&text)),
                _ => Value::String(text),
            };
            obj.insert(field.clone(), value);
        }
        if let Some(Value::Object(inv)) = obj.get_mut("inventory") {
            inv.entry("quantity").or_insert(Value::from(0));
        }
        let mut attrs = Map::new();
        for (name, col, kind, unit) in &self.attributes {
            let Some(text) = row.get(*col).map(str::trim).filter(|s| !s.is_empty()) else {
                continue;
            };
            let v = match kind.as_str() {
                "number" => match text.parse::<f64>() {
                    Ok(n) if unit.is_some() => serde_json::json!({ "value": n, "unit": unit }),
                    Ok(n) => serde_json::json!(n),
                    // Keep the raw text so validation reports the attribute rather than silently dropping it.
                    Err(_) => serde_json::json!({ "value": text, "unit": unit }),
                },
                "boolean" => parse_bool(text),
                "list" => Value::Array(self.split_list(text)),
                _ => Value::String(text.to_string()),
            };
            attrs.insert(name.clone(), v);
        }
        if !attrs.is_empty() {
            obj.insert("attributes".into(), Value::Object(attrs));
        }
        Value::Object(obj)
    }

    fn split_list(&self, text: &str) -> Vec<Value> {
        text.split(self.list_separator.as_str())
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(|s| Value::String(s.to_string()))
            .collect()
    }
}

fn parse_bool(text: &str) -> Value {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "y" | "1" => Value::Bool(true),
        "false" | "no" | "n" | "0" => Value::Bool(false),
        _ => Value::String(text.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MAPPING: &str = r#"
        [columns]
        id = "SKU"
        title = "Name"
        price = "Price"
        quantity = "Stock"
        images = "Images"
        [defaults]
        currency = "EUR"
        [attributes]
        colour = "Colour"
        weight = { column = "Weight", type = "number", unit = "kg" }
    "#;

    #[test]
    fn a_row_becomes_a_native_record() {
        let m = CsvMapping::from_toml(MAPPING).unwrap();
        let headers = csv::StringRecord::from(vec![
            "\u{feff}SKU",
            "Name",
            "Price",
            "Stock",
            "Images",
            "Colour",
            "Weight",
        ]);
        let b = m.bind(&headers).unwrap();
        let row = csv::StringRecord::from(vec![
            "A1",
            " Shirt ",
            "9.90",
            "4",
            "http://a/1.jpg|http://a/2.jpg",
            " Navy",
            "0.25",
        ]);
        let v = b.to_json(&row);
        assert_eq!(v["id"], "A1");
        assert_eq!(v["title"], "Shirt");
        assert_eq!(v["currency"], "EUR");
        assert_eq!(v["inventory"]["quantity"], 4);
        assert_eq!(v["images"].as_array().unwrap().len(), 2);
        assert_eq!(v["attributes"]["colour"], "Navy");
        assert_eq!(v["attributes"]["weight"]["unit"], "kg");
    }

    #[test]
    fn bad_mappings_fail_up_front() {
        assert!(CsvMapping::from_toml(
            "[columns]\nid='a'\ntitle='b'\nprice='c'\ncolor='d'\n[defaults]\ncurrency='EUR'"
        )
        .is_err());
        assert!(CsvMapping::from_toml("[columns]\nid='a'\ntitle='b'\nprice='c'").is_err());
        let m = CsvMapping::from_toml(MAPPING).unwrap();
        let err = m.bind(&csv::StringRecord::from(vec!["SKU"])).unwrap_err();
        assert!(err.to_string().contains("not in the CSV header"));
    }
}
