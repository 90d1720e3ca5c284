//! Column adapters for `#[derive(sqlx::FromRow)]`: what both schemas keep as TEXT but the
//! records hold as values.
//!
//! - [`Json`]: a JSON document in a TEXT column (timer specs; [`json_text`] for the records read by
//!   position, such as a task's deadline clocks and round counts),
//!   decoded strictly: text that does not parse is a store defect, reported as a decode error of
//!   its column rather than hidden. NULL decodes as JSON `null`, so `Option<T>` works.
//! - [`RawJson`]: a JSON document read leniently (notification payloads, timer specs shown to
//!   operators, the document ids of an audit entry): text that does not parse is kept as it is,
//!   so that an operator sees what is there and a changed audit entry fails its hash.
//!
//! Engine enums stored by name (`Phase`) decode with `#[sqlx(try_from = "String")]`, integers
//! narrower than BIGINT with `#[sqlx(try_from = "i64")]`.

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
        let text = if value.is_null() {
            None
        } else {
            Some(<&str as Decode<DB>>::decode(value)?)
        };
        Ok(Json(json_text(text)?))
    }
}

/// `text` as a JSON document decoded strictly, NULL (`None`) as JSON `null`: what [`Json`] and
/// the records read by position ([`super::columns::Columns::json`]) both decode.
pub(crate) fn json_text<T: DeserializeOwned>(text: Option<&str>) -> serde_json::Result<T> {
    match text {
        None => serde_json::from_value(serde_json::Value::Null),
        Some(s) => serde_json::from_str(s),
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
