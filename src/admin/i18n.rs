//! The portal's two languages. Every string a page shows lives in one table per language
//! (`web-admin/i18n/en.toml`, `web-admin/i18n/zh.toml`, embedded in the binary); templates look
//! strings up by key (`{{ c.tr.t("nav.dashboard") }}`). The language comes from the `sb_lang`
//! cookie (the switch in the top bar) or else from the browser's `Accept-Language`.

use std::{collections::HashMap, sync::LazyLock};

use axum::http::HeaderMap;

/// A language the portal speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    En,
    Zh,
}

/// The cookie that remembers the language switch.
pub const LANG_COOKIE: &str = "sb_lang";

impl Lang {
    pub const ALL: [Lang; 2] = [Lang::Zh, Lang::En];

    pub fn code(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh",
        }
    }

    /// The value of `<html lang>`.
    pub fn html_lang(self) -> &'static str {
        match self {
            Self::En => "en",
            Self::Zh => "zh-CN",
        }
    }

    /// The language's own name, for the switch.
    pub fn own_name(self) -> &'static str {
        match self {
            Self::En => "English",
            Self::Zh => "中文",
        }
    }

    pub fn parse(code: &str) -> Option<Self> {
        match code.trim().to_ascii_lowercase().as_str() {
            "en" => Some(Self::En),
            "zh" => Some(Self::Zh),
            _ => None,
        }
    }

    /// The switch cookie first, then the best `Accept-Language` match, else English.
    pub fn from_headers(headers: &HeaderMap) -> Self {
        if let Some(lang) = super::session::cookie(headers, LANG_COOKIE).and_then(Self::parse) {
            return lang;
        }
        headers
            .get(axum::http::header::ACCEPT_LANGUAGE)
            .and_then(|v| v.to_str().ok())
            .and_then(Self::from_accept_language)
            .unwrap_or(Self::En)
    }

    /// The supported language with the highest `q` in an `Accept-Language` value.
    fn from_accept_language(value: &str) -> Option<Self> {
        let mut best: Option<(f32, Self)> = None;
        for item in value.split(',') {
            let mut parts = item.split(';');
            let tag = parts.next().unwrap_or("").trim().to_ascii_lowercase();
            let q = parts
                .find_map(|p| p.trim().strip_prefix("q="))
                .and_then(|q| q.trim().parse::<f32>().ok())
                .unwrap_or(1.0);
            let primary = tag.split('-').next().unwrap_or("");
            let Some(lang) = Self::parse(primary) else {
                continue;
            };
            // Ties keep the earlier entry: browsers list preferences in order.
            if q > 0.0 && best.is_none_or(|(b, _)| q > b) {
                best = Some((q, lang));
            }
        }
        best.map(|(_, lang)| lang)
    }

    pub fn tr(self) -> Tr {
        Tr(self)
    }
}

fn flatten(prefix: &str, table: &toml::Table, out: &mut HashMap<String, String>) {
    for (key, value) in table {
        let full = if prefix.is_empty() {
            key.clone()
        } else {
            format!("{prefix}.{key}")
        };
        match value {
            toml::Value::Table(inner) => flatten(&full, inner, out),
            toml::Value::String(text) => {
                out.insert(full, text.clone());
            }
            // Only strings are used; anything else is a mistake the key tests catch.
            _ => {}
        }
    }
}

fn load(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    // The tables are part of the binary and checked by the tests below: a parse error here
    // is a build defect, shown as keys instead of text rather than a crash.
    match toml::from_str::<toml::Table>(text) {
        Ok(table) => flatten("", &table, &mut out),
        Err(error) => tracing::error!(%error, "portal strings do not parse"),
    }
    out
}

static EN: LazyLock<HashMap<String, String>> =
    LazyLock::new(|| load(include_str!("../../web-admin/i18n/en.toml")));
static ZH: LazyLock<HashMap<String, String>> =
    LazyLock::new(|| load(include_str!("../../web-admin/i18n/zh.toml")));

/// The string table of one language, as templates use it.
#[derive(Debug, Clone, Copy)]
pub struct Tr(pub Lang);

impl Tr {
    fn table(self) -> &'static HashMap<String, String> {
        match self.0 {
            Lang::En => &EN,
            Lang::Zh => &ZH,
        }
    }

    /// The string for `key` if the tables have it (for messages that are translated only in
    /// their common cases).
    pub fn get(&self, key: &str) -> Option<&'static str> {
        self.table()
            .get(key)
            .or_else(|| EN.get(key))
            .map(String::as_str)
    }

    /// The string for `key`; the English one, or a marker, when missing (the tests below keep
    /// that from happening).
    pub fn t(&self, key: &str) -> &'static str {
        match self.table().get(key).or_else(|| EN.get(key)) {
            Some(text) => text.as_str(),
            None => {
                tracing::warn!(key, "portal string missing");
                "[?]"
            }
        }
    }

    /// The string for `key` with `{name}` placeholders filled in.
    pub fn f(&self, key: &str, args: &[(&str, &dyn std::fmt::Display)]) -> String {
        let mut text = self.t(key).to_owned();
        for (name, value) in args {
            text = text.replace(&format!("{{{name}}}"), &value.to_string());
        }
        text
    }

    /// The string for `key` with its `{count}` filled in.
    pub fn n(&self, key: &str, count: usize) -> String {
        self.f(key, &[("count", &count)])
    }

    pub fn lang(&self) -> Lang {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_tables_have_the_same_keys() {
        let en: std::collections::BTreeSet<_> = EN.keys().collect();
        let zh: std::collections::BTreeSet<_> = ZH.keys().collect();
        assert!(!en.is_empty(), "en.toml parses");
        let only_en: Vec<_> = en.difference(&zh).collect();
        let only_zh: Vec<_> = zh.difference(&en).collect();
        assert!(
            only_en.is_empty() && only_zh.is_empty(),
            "only in en.toml: {only_en:?}; only in zh.toml: {only_zh:?}"
        );
    }

    /// Every key a template or handler asks for exists (a typo would show the key on a page).
    #[test]
    fn every_key_used_exists() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut sources = Vec::new();
        for dir in ["templates", "src/admin"] {
            collect(&root.join(dir), &mut sources);
        }
        let mut missing = Vec::new();
        // This file names the markers itself.
        for (path, text) in sources.into_iter().filter(|(p, _)| !p.ends_with("i18n.rs")) {
            // Code only: documentation may show the pattern with a placeholder.
            let code: String = text
                .lines()
                .filter(|line| !line.trim_start().starts_with("//"))
                .collect::<Vec<_>>()
                .join("\n");
            for marker in ["tr.t(", "tr.f(", "tr.n("] {
                for piece in code.split(marker).skip(1) {
                    let Some(quoted) = piece.trim_start().strip_prefix('"') else {
                        continue; // a key computed elsewhere (e.g. `power_key`)
                    };
                    let key = quoted.split('"').next().unwrap_or("");
                    if !EN.contains_key(key) {
                        missing.push(format!("{}: {key}", path.display()));
                    }
                }
            }
        }
        assert!(
            missing.is_empty(),
            "keys missing from the tables: {missing:?}"
        );
    }

    fn collect(dir: &std::path::Path, out: &mut Vec<(std::path::PathBuf, String)>) {
        for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                collect(&path, out);
            } else if let Ok(text) = std::fs::read_to_string(&path) {
                out.push((path, text));
            }
        }
    }

    #[test]
    fn accept_language_picks_the_best_supported() {
        assert_eq!(
            Lang::from_accept_language("zh-CN,zh;q=0.9,en;q=0.8"),
            Some(Lang::Zh)
        );
        assert_eq!(
            Lang::from_accept_language("fr-FR, en-US;q=0.7, zh;q=0.5"),
            Some(Lang::En)
        );
        assert_eq!(Lang::from_accept_language("de, fr"), None);
        assert_eq!(
            Lang::from_accept_language("en;q=0.2, zh-TW"),
            Some(Lang::Zh)
        );
    }
}
