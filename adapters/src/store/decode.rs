//! Column adapters for `#[derive(sqlx::FromRow)]`: what both schemas keep as TEXT but the
//! records hold as values.
//!
//! - [`Json`]: a JSON document in a TEXT column (deadline clocks, round counts, timer specs),
//!   decoded strictly: text that does not parse is a store defect, reported as a decode error of
//!   its column rather than hidden. NULL decodes as JSON `null`, so `Option<T>` works.
//! - [`RawJson`]: a JSON document read leniently (notification payloads, timer specs shown to
//!   operators, the document ids of an audit entry): text that does not parse is kept as it is,
//!   so that an operator sees what is there and a changed audit entry fails its hash.
//!
//! Engine enums stored by name (`Phase`) decode with `#[sqlx(try_from = "String")]`, integers
//! narrower than BIGINT with `#[sqlx(try_from = "i64")]`.

use std::collections::BTreeMap;

use engine::decide::Clock;
use serde::de::DeserializeOwned;
use sqlx::error::BoxDynError;
use sqlx::{Database, Decode, Type, ValueRef};

/// A JSON document kept in a TEXT column, decoded strictly.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Json<T>(pub T);

impl<DB: Database, T> Type<DB> for Json<T>
where
    String: Type<DB>,
{
    fn type_info() -> DB::TypeInfo {
        <String as Type<DB>>::type_info()
    }

    fn compatible(ty: &DB::TypeInfo) -> bool {
        <String as Type<DB>>::compatible(ty)
    }
}

impl<'r, DB: Database, T: DeserializeOwned> Decode<'r, DB> for Json<T>
where
    &'r str: Decode<'r, DB>,
{
    fn decode(value: DB::ValueRef<'r>) -> Result<Self, BoxDynError> {
        if value.is_null() {
            return Ok(Json(serde_json::from_value(serde_json::Value::Null)?));
        }
        let text = <&str as Decode<DB>>::decode(value)?;
        Ok(Json(serde_json::from_str(text)?))
    }
}

impl From<Json<Option<Clock>>> for Option<Clock> {
    fn from(j: Json<Option<Clock>>) -> Self {
        j.0
    }
}

impl From<Json<Option<BTreeMap<String, u32>>>> for BTreeMap<String, u32> {
    fn from(j: Json<Option<BTreeMap<String, u32>>>) -> Self {
        j.0.unwrap_or_default()
    }
}

/// A JSON document kept in a TEXT column, read leniently: see the module documentation.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::Type)]
#[sqlx(transparent)]
pub(crate) struct RawJson(pub String);

/// The parsed document, or the text as a JSON string when it does not parse.
impl From<RawJson> for serde_json::Value {
    fn from(raw: RawJson) -> Self {
        serde_json::from_str(&raw.0).unwrap_or(serde_json::Value::String(raw.0))
    }
}

/// A list of strings (an audit entry's document ids), or the whole text as its only element
/// when it is not one: then the entry's hash no longer matches, which is what it should report.
impl From<RawJson> for Vec<String> {
    fn from(raw: RawJson) -> Self {
        serde_json::from_str(&raw.0).unwrap_or_else(|_| vec![raw.0])
    }
}

impl From<Json<engine::decide::TimerKind>> for engine::decide::TimerKind {
    fn from(j: Json<engine::decide::TimerKind>) -> Self {
        j.0
    }
}
