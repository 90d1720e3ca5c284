//! Turning requests into checked values, or into a 4xx problem that says which input was wrong.
//!
//! - [`JsonBody`]: `application/json` only (415 otherwise), within the size limit (413), parsed
//!   with the JSON path of the first wrong field (400 with `field`).
//! - [`Params`]: the query string, likewise.
//! - [`Auth`]: the caller's identity from the session cookie or an `Authorization: Bearer`
//!   token (401 otherwise). It establishes who is asking; what they may do is the store's
//!   question.
//! - [`ClientAddress`]: where the request came from, for the sign-in rate limit.
//! - [`IfMatch`] and [`idempotency_key`]: the preconditions of a transition.
//! - [`text`]: user text checked for length and invisible trickery.

use std::net::SocketAddr;

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRef, FromRequest, FromRequestParts, Request};
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use super::problem::Problem;
use super::startup::AppState;
use engine::input;

use crate::store::{Expected, Identity};

pub const SESSION_COOKIE: &str = "tiendo_session";

fn path_of(e: &serde_path_to_error::Path) -> String {
    let p = e.to_string();
    if p == "." { "body".into() } else { p }
}

/// Explains a serde error in Vietnamese. serde's own messages are English and name Rust types;
/// users get the kind of mistake and the field.
fn explain(err: &str) -> String {
    if let Some(rest) = err.strip_prefix("unknown field ") {
        let name = rest.split(',').next().unwrap_or(rest);
        let expected = rest
            .split_once("expected ")
            .map(|(_, e)| format!(" Các trường được phép: {e}."))
            .unwrap_or_default();
        return format!("trường {name} không được hỗ trợ.{expected}");
    }
    if let Some(rest) = err.strip_prefix("missing field ") {
        return format!("thiếu trường bắt buộc {rest}.");
    }
    if err.starts_with("invalid type") {
        let got = err
            .split_once("invalid type: ")
            .and_then(|(_, r)| r.split_once(", expected"))
            .map(|(g, e)| format!(" (nhận được {}, cần {})", kind_vi(g), kind_vi(e)))
            .unwrap_or_default();
        return format!("sai kiểu dữ liệu{got}.");
    }
    if err.starts_with("invalid value") || err.starts_with("invalid digit") {
        return "giá trị không hợp lệ.".into();
    }
    if err.contains("out of range") || err.contains("too large") || err.contains("too small") {
        return "số nằm ngoài phạm vi cho phép.".into();
    }
    if err.contains("EOF") {
        return "JSON bị cắt cụt (kết thúc giữa chừng).".into();
    }
    if err.contains("surrogate") || err.contains("escape") || err.contains("control character") {
        return "chuỗi ký tự không hợp lệ (ký tự thoát hoặc ký tự điều khiển không được phép)."
            .into();
    }
    format!("không đọc được ({err}).")
}

/// A serde type description ("a string", "integer `5`", "u32") in Vietnamese.
fn kind_vi(s: &str) -> String {
    let s = s.trim();
    // serde_json appends the position; the detail already names the field.
    let s = s.split(" at line ").next().unwrap_or(s).trim();
    let (head, value) = match s.split_once(' ') {
        Some((h, v)) if v.starts_with('`') || v.starts_with('"') => (h, Some(v)),
        _ => (s, None),
    };
    let kind = match head {
        "a" | "an" => match s {
            "a string" => "chuỗi ký tự",
            "a boolean" => "true hoặc false",
            "a sequence" => "mảng",
            "a map" => "đối tượng",
            _ => "giá trị khác",
        },
        "string" => "chuỗi ký tự",
        "integer" | "i8" | "i16" | "i32" | "i64" | "u8" | "u16" | "u32" | "u64" => "số nguyên",
        "floating" | "f32" | "f64" => "số thực",
        "boolean" => "true/false",
        "sequence" => "mảng",
        "map" => "đối tượng",
        "null" | "unit" => "null",
        "struct" => "đối tượng",
        _ if s.starts_with("struct ") => "đối tượng",
        _ if s.starts_with("a sequence") => "mảng",
        _ => "giá trị khác",
    };
    match value {
        Some(v) => format!("{kind} {}", v.chars().take(40).collect::<String>()),
        None => kind.to_string(),
    }
}

/// A JSON request body of type `T`.
pub struct JsonBody<T>(pub T);

impl<T, S> FromRequest<S> for JsonBody<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let is_json = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .map(|m| {
                let m = m.trim().to_ascii_lowercase();
                m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
            })
            .unwrap_or(false);
        if !is_json {
            return Err(Problem::unsupported_media_type(
                "Nội dung yêu cầu phải là JSON: gửi tiêu đề Content-Type: application/json.",
            ));
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            if e.status() == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
                Problem::too_large(super::MAX_JSON_BYTES)
            } else {
                Problem::bad_request("body", "Không đọc được nội dung yêu cầu.")
            }
        })?;
        parse_json(&bytes).map(JsonBody)
    }
}

/// Parses JSON into `T`, naming the first wrong field.
pub fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, Problem> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Problem::bad_request(
            "body",
            "Thiếu nội dung JSON của yêu cầu.",
        ));
    }
    // Read as JSON first (a syntax error names its line and column), then into `T`. In between,
    // a number with a zero fraction (`2026.0`) becomes the integer it is: JSON Schema, and so
    // the OpenAPI document, counts it as one.
    let mut json: serde_json::Value = serde_json::from_slice(bytes).map_err(|e| {
        Problem::bad_request(
            "body",
            format!(
                "JSON không hợp lệ ở dòng {}, cột {}: {}",
                e.line(),
                e.column(),
                explain(&e.to_string())
            ),
        )
    })?;
    integral_numbers(&mut json);
    let value: T = serde_path_to_error::deserialize(json).map_err(|e| {
        let inner = e.inner();
        let field = path_of(e.path());
        let detail = if inner.is_syntax() || inner.is_eof() {
            format!(
                "JSON không hợp lệ ở dòng {}, cột {}: {}",
                inner.line(),
                inner.column(),
                explain(&inner.to_string())
            )
        } else {
            format!("Trường `{field}`: {}", explain(&inner.to_string()))
        };
        Problem::bad_request(&field, detail)
    })?;
    Ok(value)
}

/// Turns every number with a zero fraction that an `i64` holds into that integer.
fn integral_numbers(v: &mut serde_json::Value) {
    use serde_json::Value;
    match v {
        Value::Number(n) if !n.is_i64() && !n.is_u64() => {
            if let Some(f) = n.as_f64()
                && f.fract() == 0.0
                && f >= i64::MIN as f64
                && f < i64::MAX as f64
            {
                *v = Value::from(f as i64);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(integral_numbers),
        Value::Object(fields) => fields.values_mut().for_each(integral_numbers),
        _ => {}
    }
}

/// Query-string parameters of type `T`.
pub struct Params<T>(pub T);

impl<T, S> FromRequestParts<S> for Params<T>
where
    T: DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let query = parts.uri.query().unwrap_or("");
        let de = serde_urlencoded::Deserializer::new(form_urlencoded::parse(query.as_bytes()));
        serde_path_to_error::deserialize(de)
            .map(Params)
            .map_err(|e| {
                let field = e.path().to_string();
                let field = if field == "." {
                    "query".to_string()
                } else {
                    field
                };
                let inner = e.inner().to_string();
                // serde_urlencoded reports the field of an unknown or missing parameter only in
                // its message; surface it as the field.
                let named = inner
                    .split('`')
                    .nth(1)
                    .filter(|_| field == "query")
                    .map(str::to_string)
                    .unwrap_or(field);
                Problem::bad_request(
                    &named,
                    format!("Tham số `{named}` trong địa chỉ: {}", explain(&inner)),
                )
            })
    }
}

/// The caller, authenticated.
pub struct Auth(pub Identity);

/// The value of a cookie in the `Cookie` header(s).
pub fn cookie<'a>(headers: &'a axum::http::HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|c| c.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim())
}

impl<S> FromRequestParts<S> for Auth
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let now = chrono::Utc::now();
        let bearer = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                v.split_once(' ')
                    .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
                    .map(|(_, t)| t.trim())
            });
        let identity = if let Some(token) = bearer {
            app.store.accounts().identity_from_token(token, now).await?
        } else if let Some(secret) = cookie(&parts.headers, SESSION_COOKIE) {
            app.store
                .accounts()
                .identity_from_session(secret, &app.settings.auth, now)
                .await?
        } else {
            None
        };
        identity.map(Auth).ok_or_else(Problem::unauthorized)
    }
}

/// The client's address: the peer, or, when the peer is one of the configured
/// `trusted_proxies`, the last address of `X-Forwarded-For` that is not a trusted proxy (each
/// proxy appends the address it received from; only the hops added by our own proxies can be
/// believed).
pub struct ClientAddress(pub String);

/// The client behind `peer`: see [`ClientAddress`].
pub(crate) fn client_address(
    peer: Option<std::net::IpAddr>,
    forwarded: &[&str],
    trusted: &[ipnet::IpNet],
) -> String {
    let is_trusted = |ip: &std::net::IpAddr| trusted.iter().any(|n| n.contains(ip));
    let Some(peer) = peer else {
        return "unknown".into();
    };
    if !is_trusted(&peer) {
        return peer.to_string();
    }
    let mut client = peer.to_string();
    for hop in forwarded.iter().rev() {
        match hop.parse::<std::net::IpAddr>() {
            Ok(ip) if is_trusted(&ip) => client = ip.to_string(),
            Ok(ip) => return ip.to_string(),
            // Not an address: whatever sent it is the client as far as we can tell.
            Err(_) => return hop.chars().take(64).collect(),
        }
    }
    client
}

impl<S> FromRequestParts<S> for ClientAddress
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip().to_canonical());
        let forwarded: Vec<&str> = parts
            .headers
            .get_all("x-forwarded-for")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .collect();
        Ok(ClientAddress(client_address(
            peer,
            &forwarded,
            &app.settings.trusted_proxies,
        )))
    }
}

/// The `If-Match` precondition of a transition (RFC 9110 §13.1.1), read against the task's
/// version, whose entity-tag is `"N"`:
///
/// - absent or empty: no precondition, the transition applies to the current version;
/// - `*`: any current version;
/// - a list of strong tags `"N"`: one of them must be the current version, else **409** with
///   `current_version` (the task moved on: reload and retry);
/// - tags that can never match a version of a task (weak `W/"N"`, anything but digits in the
///   quotes) and no matching one: **412**;
/// - not an entity-tag list at all: **400** with `field: "If-Match"`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IfMatch {
    Absent,
    Any,
    Versions(Vec<i64>),
    /// Well-formed, but names no version of any task.
    Unmatchable,
}

impl IfMatch {
    pub fn parse(headers: &axum::http::HeaderMap) -> Result<IfMatch, Problem> {
        let values: Vec<_> = headers.get_all(header::IF_MATCH).iter().collect();
        if values.is_empty() {
            return Ok(IfMatch::Absent);
        }
        let bad = || {
            Problem::bad_request(
                "If-Match",
                "Tiêu đề If-Match không hợp lệ: dùng phiên bản của nhiệm vụ trong dấu ngoặc kép, ví dụ If-Match: \"3\" (lấy từ ETag hoặc trường version), hoặc If-Match: *.",
            )
        };
        let mut text = String::new();
        for v in values {
            let s = v.to_str().map_err(|_| bad())?;
            if !text.is_empty() {
                text.push(',');
            }
            text.push_str(s);
        }
        let text = text.trim();
        // An empty field names no version: no precondition, as when the header is absent.
        if text.is_empty() {
            return Ok(IfMatch::Absent);
        }
        if text == "*" {
            return Ok(IfMatch::Any);
        }
        let mut versions = Vec::new();
        let mut any_tag = false;
        for item in text.split(',').map(str::trim).filter(|s| !s.is_empty()) {
            let (weak, tag) = match item.strip_prefix("W/") {
                Some(t) => (true, t),
                None => (false, item),
            };
            let inner = tag
                .strip_prefix('"')
                .and_then(|t| t.strip_suffix('"'))
                .filter(|t| t.chars().all(|c| c != '"' && (c == '\x21' || c >= '\x23')))
                .ok_or_else(bad)?;
            any_tag = true;
            if weak {
                continue;
            }
            if !inner.is_empty() && inner.chars().all(|c| c.is_ascii_digit()) {
                match inner.parse::<i64>() {
                    Ok(n) => versions.push(n),
                    Err(_) => continue,
                }
            }
        }
        if !any_tag {
            return Err(bad());
        }
        if versions.is_empty() {
            Ok(IfMatch::Unmatchable)
        } else {
            Ok(IfMatch::Versions(versions))
        }
    }

    /// What the transition expects of the task's version; the store answers the precondition
    /// once it knows the task is visible (a tag that can never match is a 412 naming the
    /// current version; a version the task no longer has is a conflict, or the first outcome
    /// when this is a retry carrying its Idempotency-Key).
    pub fn into_expected(self) -> Expected {
        match self {
            IfMatch::Absent | IfMatch::Any => Expected::Any,
            IfMatch::Unmatchable => Expected::Never,
            IfMatch::Versions(v) => Expected::OneOf(v),
        }
    }
}

/// The `Idempotency-Key` header: 1–200 visible ASCII characters.
pub fn idempotency_key(headers: &axum::http::HeaderMap) -> Result<Option<String>, Problem> {
    let Some(v) = headers.get("idempotency-key") else {
        return Ok(None);
    };
    let s = v.to_str().ok().map(str::trim).unwrap_or("");
    if s.is_empty() || s.len() > 200 || !s.bytes().all(|b| (0x21..=0x7e).contains(&b)) {
        return Err(Problem::bad_request(
            "Idempotency-Key",
            "Tiêu đề Idempotency-Key không hợp lệ: dùng 1–200 ký tự ASCII nhìn thấy được (ví dụ một UUID).",
        ));
    }
    Ok(Some(s.to_string()))
}

/// A user-supplied text: trimmed, non-empty, at most `max` characters, without hidden
/// characters (newlines and tabs allowed when `multiline`): the rule of
/// [`engine::input::clean_text`], refused with a 400 naming the field.
pub fn text(field: &str, value: &str, max: usize, multiline: bool) -> Result<String, Problem> {
    input::clean_text(value, max, multiline)
        .map_err(|e| Problem::bad_request(field, e.describe(field)))
}

/// [`text`] for an optional field: a blank made of plain spaces means absent.
pub fn opt_text(
    field: &str,
    value: Option<&str>,
    max: usize,
    multiline: bool,
) -> Result<Option<String>, Problem> {
    input::clean_optional(value, max, multiline)
        .map_err(|e| Problem::bad_request(field, e.describe(field)))
}

/// An optional email address: one RFC 5322 address ([`engine::input::optional_email`]).
pub fn opt_email(field: &str, value: Option<&str>) -> Result<Option<String>, Problem> {
    input::optional_email(field, value).map_err(|e| Problem::bad_request(field, e))
}

/// An identifier (task, document, unit, user name…) from a path or body: short and plain, so
/// that a megabyte of Unicode never reaches a query ([`engine::input::clean_ident`]).
pub fn ident(field: &str, value: &str) -> Result<String, Problem> {
    input::clean_ident(value).ok_or_else(|| {
        Problem::bad_request(
            field,
            format!(
                "`{field}` không hợp lệ: cần 1–{} ký tự, không chứa ký tự điều khiển.",
                input::MAX_IDENT_CHARS
            ),
        )
    })
}

/// A date in a request body, written yyyy-mm-dd or dd/mm/yyyy; refused with a 400 naming the
/// field.
pub fn date(field: &str, value: &str) -> Result<chrono::NaiveDate, Problem> {
    engine::time::parse_date(value).map_err(|_| {
        Problem::bad_request(
            field,
            format!("Trường `{field}`: ngày không hợp lệ; dùng yyyy-mm-dd hoặc dd/mm/yyyy."),
        )
    })
}

/// [`date`] for an optional field: a blank ([`input::is_blank`]) means absent; anything else,
/// a stray U+0085 included, must be a date.
pub fn opt_date(field: &str, value: Option<&str>) -> Result<Option<chrono::NaiveDate>, Problem> {
    value
        .filter(|v| !input::is_blank(v))
        .map(|v| date(field, v.trim()))
        .transpose()
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::{HeaderMap, HeaderValue};

    fn if_match(v: &str) -> Result<IfMatch, Problem> {
        let mut h = HeaderMap::new();
        h.insert(header::IF_MATCH, HeaderValue::from_str(v).unwrap());
        IfMatch::parse(&h)
    }

    #[test]
    fn forwarded_addresses_are_believed_from_trusted_proxies_only() {
        let proxies: Vec<ipnet::IpNet> = vec![
            "127.0.0.1/32".parse().unwrap(),
            "10.0.0.0/8".parse().unwrap(),
        ];
        let ip = |s: &str| Some(s.parse::<std::net::IpAddr>().unwrap());
        // Not behind a trusted proxy: the header is anyone's to write.
        assert_eq!(
            client_address(ip("203.0.113.5"), &["1.2.3.4"], &proxies),
            "203.0.113.5"
        );
        assert_eq!(
            client_address(ip("127.0.0.1"), &["1.2.3.4"], &[]),
            "127.0.0.1"
        );
        // Behind ours: the last hop that is not ours; what the client wrote before it is not.
        assert_eq!(
            client_address(
                ip("127.0.0.1"),
                &["6.6.6.6", "198.51.100.7", "10.1.2.3"],
                &proxies
            ),
            "198.51.100.7"
        );
        assert_eq!(client_address(ip("127.0.0.1"), &[], &proxies), "127.0.0.1");
        assert_eq!(client_address(None, &[], &proxies), "unknown");
    }

    #[test]
    fn if_match_rules() {
        assert_eq!(IfMatch::parse(&HeaderMap::new()).unwrap(), IfMatch::Absent);
        assert_eq!(if_match("*").unwrap(), IfMatch::Any);
        assert_eq!(if_match("\"3\"").unwrap(), IfMatch::Versions(vec![3]));
        assert_eq!(
            if_match("\"3\", \"4\"").unwrap(),
            IfMatch::Versions(vec![3, 4])
        );
        assert_eq!(if_match("W/\"3\"").unwrap(), IfMatch::Unmatchable);
        assert_eq!(if_match("\"v3\"").unwrap(), IfMatch::Unmatchable);
        assert_eq!(
            if_match("\"99999999999999999999999\"").unwrap(),
            IfMatch::Unmatchable
        );
        assert_eq!(if_match("").unwrap(), IfMatch::Absent);
        assert_eq!(if_match("  ").unwrap(), IfMatch::Absent);
        for bad in ["3", "\"3", "abc", "\"a\"b\"", ","] {
            let p = if_match(bad).unwrap_err();
            assert_eq!(p.status, axum::http::StatusCode::BAD_REQUEST, "{bad}");
        }
        assert_eq!(
            IfMatch::Versions(vec![2, 3]).into_expected(),
            Expected::OneOf(vec![2, 3])
        );
        assert_eq!(IfMatch::Unmatchable.into_expected(), Expected::Never);
        assert_eq!(IfMatch::Any.into_expected(), Expected::Any);
        assert_eq!(IfMatch::Absent.into_expected(), Expected::Any);
    }

    #[test]
    fn texts_refuse_controls_overrides_and_excess() {
        assert_eq!(
            text("name", "  Mua máy chủ  ", 20, false).unwrap(),
            "Mua máy chủ"
        );
        assert!(text("name", "a\u{202E}b", 10, false).is_err());
        assert!(text("name", "a\nb", 10, false).is_err());
        assert!(text("comment", "a\nb", 10, true).is_ok());
        assert!(text("name", "a\u{0}b", 10, true).is_err());
        assert!(text("name", &"á".repeat(11), 10, false).is_err());
        assert!(text("name", "   ", 10, false).is_err());
        assert!(ident("id", &"x".repeat(201)).is_err());
    }

    #[test]
    fn an_optional_date_is_absent_only_when_blank() {
        assert_eq!(opt_date("d", None).unwrap(), None);
        assert_eq!(opt_date("d", Some("  ")).unwrap(), None);
        assert_eq!(
            opt_date("d", Some(" 31/12/2025 ")).unwrap(),
            chrono::NaiveDate::from_ymd_opt(2025, 12, 31)
        );
        let e = opt_date("issued_on", Some(" \u{85} ")).unwrap_err();
        assert_eq!(e.extensions["field"], "issued_on");
        assert!(e.detail.contains("ngày không hợp lệ"), "{}", e.detail);
    }

    #[test]
    fn json_errors_name_the_field_in_vietnamese() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct B {
            a: i32,
            b: Vec<String>,
        }
        let e = parse_json::<B>(br#"{"a": "x", "b": []}"#).unwrap_err();
        assert_eq!(e.extensions["field"], "a");
        assert!(e.detail.contains("sai kiểu"), "{}", e.detail);
        assert!(e.detail.contains("cần số nguyên"), "{}", e.detail);
        assert!(!e.detail.contains("line"), "{}", e.detail);
        let e = parse_json::<B>(br#"{"a": 1, "b": [1]}"#).unwrap_err();
        assert_eq!(e.extensions["field"], "b[0]");
        let e = parse_json::<B>(br#"{"a": 1, "b": [], "c": 1}"#).unwrap_err();
        assert!(e.detail.contains("không được hỗ trợ"), "{}", e.detail);
        let e = parse_json::<B>(br#"{"a": 1"#).unwrap_err();
        assert!(e.detail.contains("JSON không hợp lệ"), "{}", e.detail);
        assert!(parse_json::<B>(b"  ").is_err());
    }
}
