//! Static assets embedded in the binary: the style sheet, the small scripts and the icon. Each
//! is served under `/assets/NAME.HASH.EXT`, the hash being the first 12 hex digits of its
//! sha256, with `Cache-Control: public, max-age=31536000, immutable`: a browser fetches a file
//! once per version, and a new build changes the name. Nothing comes from a CDN, so the pages
//! work on a closed government network.

use std::sync::OnceLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

struct Asset {
    /// The name in the source tree (`app.css`).
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const ASSETS: &[Asset] = &[
    Asset {
        name: "app.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/app.css"),
    },
    Asset {
        name: "app.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/app.js"),
    },
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/htmx.min.js"),
    },
    Asset {
        name: "icon.svg",
        content_type: "image/svg+xml",
        bytes: include_bytes!("assets/icon.svg"),
    },
];

/// `app.css` → `app.3f2a9c0d1e4b.css`.
fn hashed_name(a: &Asset) -> String {
    let hash = crate::store::sha256_hex(a.bytes);
    match a.name.rsplit_once('.') {
        Some((stem, ext)) if stem.ends_with(".min") => {
            let stem = stem.trim_end_matches(".min");
            format!("{stem}.{}.min.{ext}", &hash[..12])
        }
        Some((stem, ext)) => format!("{stem}.{}.{ext}", &hash[..12]),
        None => format!("{}.{}", a.name, &hash[..12]),
    }
}

fn table() -> &'static [(String, &'static Asset)] {
    static TABLE: OnceLock<Vec<(String, &'static Asset)>> = OnceLock::new();
    TABLE.get_or_init(|| ASSETS.iter().map(|a| (hashed_name(a), a)).collect())
}

/// The URL of an asset by its source name (`app.css` → `/assets/app.3f2a….css`).
pub fn url(name: &str) -> String {
    table()
        .iter()
        .find(|(_, a)| a.name == name)
        .map(|(hashed, _)| format!("/assets/{hashed}"))
        .unwrap_or_else(|| format!("/assets/{name}"))
}

/// `GET /assets/{file}`: the asset whose hashed name is `file`; any other name is 404, so a
/// stale page never gets a newer file under an old name.
pub async fn serve(Path(file): Path<String>) -> Response {
    match table().iter().find(|(hashed, _)| *hashed == file) {
        Some((_, a)) => {
            let mut res = a.bytes.into_response();
            let h = res.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static(a.content_type),
            );
            h.insert(
                header::CACHE_CONTROL,
                HeaderValue::from_static("public, max-age=31536000, immutable"),
            );
            res
        }
        None => (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "Không có tệp này.",
        )
            .into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_carry_a_content_hash() {
        let css = url("app.css");
        assert!(
            css.starts_with("/assets/app.") && css.ends_with(".css"),
            "{css}"
        );
        assert_eq!(css.len(), "/assets/app..css".len() + 12);
        assert!(url("htmx.min.js").ends_with(".min.js"));
        assert_ne!(url("app.css"), url("app.js"));
    }
}
