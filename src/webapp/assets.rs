//! The client's files (JavaScript modules, CSS), embedded in the binary and served under
//! `/app/assets/` with the portal's caching rules (`admin::assets::respond`).
//!
//! For working on the client, a debug build started with `SWITCHBOARD_DEV_ASSETS=1` reads the
//! files from `web-app/` on every request instead, so JavaScript changes need no rebuild.

use std::sync::LazyLock;

use axum::{
    extract::{Path, Query},
    http::{HeaderMap, StatusCode},
    response::{IntoResponse, Response},
};

use crate::admin::assets::{Asset, respond};

const JS: &str = "text/javascript; charset=utf-8";

macro_rules! asset {
    ($name:literal, $type:expr) => {
        (
            $name,
            $type,
            include_bytes!(concat!("../../web-app/", $name)) as &[u8],
        )
    };
}

static ASSETS: LazyLock<Vec<Asset>> = LazyLock::new(|| {
    [
        asset!("css/app.css", "text/css; charset=utf-8"),
        asset!("js/main.js", JS),
        asset!("js/api.js", JS),
        asset!("js/dom.js", JS),
        asset!("js/i18n.js", JS),
        asset!("js/db.js", JS),
        asset!("js/contacts.js", JS),
        asset!("js/contacts-ui.js", JS),
        asset!("js/socket.js", JS),
        asset!("js/chat.js", JS),
        asset!("js/chat-ui.js", JS),
        asset!("js/messages-ui.js", JS),
        asset!("js/cards.js", JS),
        asset!("js/composer.js", JS),
        asset!("js/files.js", JS),
        asset!("js/notify.js", JS),
        asset!("js/signin.js", JS),
        asset!("js/search.js", JS),
    ]
    .into_iter()
    .map(|(name, content_type, bytes)| Asset::new(name, content_type, bytes))
    .collect()
});

fn find(name: &str) -> Option<&'static Asset> {
    ASSETS.iter().find(|a| a.name == name)
}

/// The URL of a client file, with its content hash.
pub fn url(name: &str) -> String {
    match find(name) {
        Some(asset) => format!("/app/assets/{}?v={}", asset.name, asset.hash),
        None => format!("/app/assets/{name}"),
    }
}

#[derive(serde::Deserialize)]
pub struct Version {
    v: Option<String>,
}

/// `GET /app/assets/{name}`.
pub async fn serve(
    Path(name): Path<String>,
    Query(version): Query<Version>,
    headers: HeaderMap,
) -> Response {
    let Some(asset) = find(&name) else {
        return StatusCode::NOT_FOUND.into_response();
    };
    if let Some(response) = dev::from_disk(asset) {
        return response;
    }
    respond(asset, version.v.as_deref(), &headers)
}

#[cfg(debug_assertions)]
mod dev {
    use axum::{
        http::header,
        response::{IntoResponse, Response},
    };

    use super::Asset;

    /// The file as it is on disk now, when `SWITCHBOARD_DEV_ASSETS` is set (debug builds only).
    pub fn from_disk(asset: &Asset) -> Option<Response> {
        std::env::var_os("SWITCHBOARD_DEV_ASSETS")?;
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("web-app")
            .join(asset.name);
        let bytes = std::fs::read(path).ok()?;
        Some(
            (
                [
                    (header::CONTENT_TYPE, asset.content_type),
                    (header::CACHE_CONTROL, "no-store"),
                ],
                bytes,
            )
                .into_response(),
        )
    }
}

#[cfg(not(debug_assertions))]
mod dev {
    use axum::response::Response;

    use super::Asset;

    pub fn from_disk(_: &Asset) -> Option<Response> {
        None
    }
}
