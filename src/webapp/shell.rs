//! The page at `/app`: an empty document that loads the client. The language comes from the
//! portal's rules (the `sb_lang` cookie, then `Accept-Language`), and the page carries that
//! language's strings (`web-app/i18n/*.toml`) as JSON in a data attribute — data, not script,
//! so the CSP's `script-src 'self'` holds.

use std::sync::LazyLock;

use askama::Template;
use axum::{
    http::{HeaderMap, HeaderValue, StatusCode, header},
    response::{Html, IntoResponse, Response},
};

use super::assets;
use crate::admin::{CONTENT_SECURITY_POLICY, i18n::Lang};

/// The portal's policy, plus `blob:` images and media: pictures and voice in chats are fetched
/// with the bearer token and shown from in-memory blobs (an `<img src>` cannot send a token).
static APP_CSP: LazyLock<String> = LazyLock::new(|| {
    CONTENT_SECURITY_POLICY.replace("img-src 'self' data:", "img-src 'self' data: blob:")
        + "; media-src 'self' blob:"
});

#[derive(Template)]
#[template(path = "app/shell.html")]
struct Shell {
    lang: Lang,
    /// The client's strings in this language, as JSON.
    strings: String,
    /// What the page says before (or without) JavaScript.
    loading: String,
    noscript: String,
    /// The other languages: (code, own name).
    languages: Vec<(&'static str, &'static str)>,
    css: String,
    js: String,
    favicon: String,
    version: &'static str,
}

/// `GET /app`.
pub async fn show(headers: HeaderMap) -> Response {
    let lang = Lang::from_headers(&headers);
    let table = table(lang);
    let boot = |key: &str| {
        table
            .get("boot")
            .and_then(|b| b.get(key))
            .and_then(|v| v.as_str())
            .unwrap_or("")
            .to_owned()
    };
    let page = Shell {
        lang,
        loading: boot("loading"),
        noscript: boot("noscript"),
        strings: serde_json::to_string(&table).unwrap_or_else(|_| "{}".into()),
        languages: Lang::ALL.iter().map(|l| (l.code(), l.own_name())).collect(),
        css: assets::url("css/app.css"),
        js: assets::url("js/main.js"),
        favicon: crate::admin::assets::url("favicon.svg"),
        version: env!("CARGO_PKG_VERSION"),
    };
    let mut response = match page.render() {
        Ok(html) => Html(html).into_response(),
        Err(error) => {
            tracing::error!(%error, "web client shell failed");
            (StatusCode::INTERNAL_SERVER_ERROR, "template error").into_response()
        }
    };
    if let Ok(value) = HeaderValue::from_str(&APP_CSP) {
        response
            .headers_mut()
            .insert(header::CONTENT_SECURITY_POLICY, value);
    }
    response
}

static EN: &str = include_str!("../../web-app/i18n/en.toml");
static ZH: &str = include_str!("../../web-app/i18n/zh.toml");

/// The string table of `lang` (nested as in the TOML file).
fn table(lang: Lang) -> toml::Table {
    let file = match lang {
        Lang::En => "en.toml",
        Lang::Zh => "zh.toml",
    };
    let text = dev_table(file).unwrap_or_else(|| {
        match lang {
            Lang::En => EN,
            Lang::Zh => ZH,
        }
        .to_owned()
    });
    // The tables are part of the binary and checked by the tests below: a parse error is a
    // build defect, shown as keys rather than a crash.
    toml::from_str::<toml::Table>(&text).unwrap_or_else(|error| {
        tracing::error!(%error, "web client strings do not parse");
        toml::Table::new()
    })
}

/// With `SWITCHBOARD_DEV_ASSETS` in a debug build, the table as it is on disk now.
fn dev_table(file: &str) -> Option<String> {
    if !cfg!(debug_assertions) {
        return None;
    }
    std::env::var_os("SWITCHBOARD_DEV_ASSETS")?;
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("web-app/i18n")
        .join(file);
    std::fs::read_to_string(path).ok()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    fn keys(prefix: &str, table: &toml::Table, out: &mut BTreeSet<String>) {
        for (key, value) in table {
            let full = format!("{prefix}{key}");
            match value {
                toml::Value::Table(inner) => keys(&format!("{full}."), inner, out),
                toml::Value::String(_) => {
                    out.insert(full);
                }
                other => panic!("{full}: only strings belong in the tables, not {other:?}"),
            }
        }
    }

    fn table(text: &str) -> BTreeSet<String> {
        let mut out = BTreeSet::new();
        keys("", &toml::from_str(text).expect("parses"), &mut out);
        out
    }

    #[test]
    fn both_tables_have_the_same_keys() {
        let (en, zh) = (table(super::EN), table(super::ZH));
        assert!(!en.is_empty());
        let only_en: Vec<_> = en.difference(&zh).collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        assert!(
            only_en.is_empty() && only_zh.is_empty(),
            "only in en.toml: {only_en:?}; only in zh.toml: {only_zh:?}"
        );
    }

    /// Every key the client asks for (`t("…")` in web-app/js) exists.
    #[test]
    fn every_key_used_exists() {
        let en = table(super::EN);
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("web-app/js");
        let mut missing = Vec::new();
        for entry in std::fs::read_dir(dir).expect("web-app/js").flatten() {
            let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
            for (at, _) in text.match_indices("t(\"") {
                // `t(` itself, not the end of another name (`split(`, `insert(`).
                let before = text[..at].chars().next_back().unwrap_or(' ');
                if before.is_alphanumeric() || matches!(before, '_' | '$' | '.') {
                    continue;
                }
                let key = text[at + 3..].split('"').next().unwrap_or("");
                if !en.contains(key) {
                    missing.push(format!("{}: {key}", entry.path().display()));
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from the tables: {missing:?}"
        );
    }
}
