//! Static files (CSS, JS, vendored libraries), embedded in the binary and served under
//! `/assets/`. Pages link them as `/assets/<name>?v=<hash>`: a URL with the current content
//! hash is cached for a year (`immutable`), any other answers with `no-cache` and an `ETag`,
//! so a new binary never meets a stale file.

use std::sync::LazyLock;

use axum::{
    extract::{Path, Query},
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use sha2::{Digest, Sha256};

/// One embedded file.
pub struct Asset {
    pub name: &'static str,
    pub content_type: &'static str,
    pub bytes: &'static [u8],
    /// The first 16 hex digits of the SHA-256 of `bytes`.
    pub hash: String,
}

impl Asset {
    pub fn new(name: &'static str, content_type: &'static str, bytes: &'static [u8]) -> Self {
        Self {
            name,
            content_type,
            bytes,
            hash: hex::encode(&Sha256::digest(bytes)[..8]),
        }
    }
}

macro_rules! asset {
    ($name:literal, $path:literal, $type:literal) => {
        (
            $name,
            $type,
            include_bytes!(concat!("../../web-admin/", $path)) as &[u8],
        )
    };
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        asset!("admin.css", "css/admin.css", "text/css; charset=utf-8"),
        asset!("admin.js", "js/admin.js", "text/javascript; charset=utf-8"),
        asset!("org.js", "js/org.js", "text/javascript; charset=utf-8"),
        asset!(
            "htmx.min.js",
            "vendor/htmx-2.0.10/htmx.min.js",
            "text/javascript; charset=utf-8"
        ),
        asset!("favicon.svg", "img/favicon.svg", "image/svg+xml"),
    ]
    .into_iter()
    .map(|(name, content_type, bytes)| Asset::new(name, content_type, bytes))
    .collect()
});

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The URL of an embedded file, with its content hash.
pub fn url(name: &str) -> String {
    match find(name) {
        Some(asset) => format!("/assets/{}?v={}", asset.name, asset.hash),
        None => format!("/assets/{name}"),
    }
}

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /assets/{name}`.
pub async fn serve(
    Path(name): Path<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    match find(&name) {
        Some(asset) => respond(asset, version.v.as_deref(), &headers),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}

/// The answer for an embedded file asked for with `?v=<version>` (the web client's assets
/// are served the same way).
pub fn respond(asset: &Asset, version: Option<&str>, headers: &HeaderMap) -> Response {
    let etag = format!("\"{}\"", asset.hash);
    let cache = if version == Some(asset.hash.as_str()) {
        "public, max-age=31536000, immutable"
    } else {
        "no-cache"
    };
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|tag| tag.trim() == etag));
    if matches {
        return (
            StatusCode::NOT_MODIFIED,
            [
                (header::ETAG, etag_value),
                (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
            ],
        )
            .into_response();
    }
    (
        [
            (
                header::CONTENT_TYPE,
                HeaderValue::from_static(asset.content_type),
            ),
            (header::ETAG, etag_value),
            (header::CACHE_CONTROL, HeaderValue::from_static(cache)),
        ],
        asset.bytes,
    )
        .into_response()
}
