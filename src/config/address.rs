//! The mail addresses and http(s) URLs the server accepts (settings, webhooks, staff), each as
//! a pattern for the OpenAPI document and a reader the server uses, which match exactly.

/// The mail addresses the API accepts, as the OpenAPI document states them: a dot-atom local
/// part (RFC 5322 `atext`) of at most 64 characters and a host name of ASCII labels, at most 254.
/// `is_plain_address` is its reading.
pub const ADDRESS_PATTERN: &str = r"(?=[^@]{1,64}@)[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*@(?=[A-Za-z0-9.-]{1,254}(?![A-Za-z0-9.-]))[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*";

/// The http(s) URLs the API accepts (public URL, webhooks), as the OpenAPI document states
/// them: a host name whose labels start with a letter, or an IPv4 address; a port; a plain
/// path. `is_plain_http_url` is its reading.
pub const HTTP_URL_PATTERN: &str = r"[Hh][Tt][Tt][Pp][Ss]?://(?:[A-Za-z][A-Za-z0-9-]*(?:\.[A-Za-z][A-Za-z0-9-]*)*|(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9]))(?::(?:[0-9]{1,4}|[1-5][0-9]{4}|6[0-4][0-9]{3}|65[0-4][0-9]{2}|655[0-2][0-9]|6553[0-5]))?(?:/[A-Za-z0-9._~%/-]*)?";

/// Whether `text` matches `ADDRESS_PATTERN`.
pub fn is_plain_address(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    let atext = |c: char| c.is_ascii_alphanumeric() || "!#$%&'*+/=?^_`{|}~-".contains(c);
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    local.len() <= 64
        && domain.len() <= 254
        && local
            .split('.')
            .all(|atom| !atom.is_empty() && atom.chars().all(atext))
        && domain.split('.').all(label)
}

/// Whether `text` matches `HTTP_URL_PATTERN`.
pub fn is_plain_http_url(text: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let Some(skip) = ["https://", "http://"]
        .iter()
        .find(|scheme| lower.starts_with(*scheme))
        .map(|scheme| scheme.len())
    else {
        return false;
    };
    let rest = &text[skip..];
    let (authority, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    let (host, port) = match authority.split_once(':') {
        Some((host, port)) => (host, Some(port)),
        None => (authority, None),
    };
    let octet = |o: &str| {
        !o.is_empty()
            && o.len() <= 3
            && o.chars().all(|c| c.is_ascii_digit())
            && (o.len() == 1 || !o.starts_with('0'))
            && o.parse::<u16>().is_ok_and(|v| v <= 255)
    };
    let label = |l: &str| {
        l.starts_with(|c: char| c.is_ascii_alphabetic())
            && l.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    let host_ok = {
        let parts: Vec<&str> = host.split('.').collect();
        parts.iter().all(|l| label(l)) || (parts.len() == 4 && parts.iter().all(|o| octet(o)))
    };
    let port_ok = port.is_none_or(|p| {
        (1..=5).contains(&p.len())
            && p.chars().all(|c| c.is_ascii_digit())
            && (p.len() < 5 || (!p.starts_with('0') && p.parse::<u32>().is_ok_and(|v| v <= 65_535)))
    });
    let path_ok = path
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || "._~%/-".contains(c));
    host_ok && port_ok && path_ok
}

/// Whether `text` is a mail address the API accepts: `ADDRESS_PATTERN`, and lettre takes it.
pub fn valid_address(text: &str) -> bool {
    is_plain_address(text) && text.parse::<lettre::Address>().is_ok()
}

/// Checks a public URL: `HTTP_URL_PATTERN` (http(s), no query or fragment); returned without
/// a trailing slash.
pub fn parse_public_url(text: &str) -> Option<String> {
    if !is_plain_http_url(text.trim()) {
        return None;
    }
    let url = reqwest::Url::parse(text.trim()).ok()?;
    let ok = matches!(url.scheme(), "http" | "https")
        && url.host_str().is_some()
        && url.query().is_none()
        && url.fragment().is_none();
    ok.then(|| url.as_str().trim_end_matches('/').to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_are_what_the_document_says() {
        for good in ["a@b", "it.ops+alerts@example.com", "0@0", "x@a-b.c9"] {
            assert!(valid_address(good), "{good}");
        }
        let long_local = format!("{}@example.com", "a".repeat(65));
        for bad in [
            "",
            "a",
            "a@",
            "@b",
            "a@b@c",
            "a..b@c",
            ".a@c",
            "a@-b",
            "a@b-",
            "a@b..c",
            "a b@c",
            "张@例子.中国",
            &long_local,
        ] {
            assert!(!valid_address(bad), "{bad}");
        }
    }

    #[test]
    fn urls_are_what_the_document_says() {
        for good in [
            "http://a",
            "HTTPS://chat.example.com:8443/switchboard/",
            "http://127.0.0.1:65535/x",
            "http://intranet-1/a%20b",
        ] {
            assert!(is_plain_http_url(good), "{good}");
            assert!(reqwest::Url::parse(good).is_ok(), "{good}");
        }
        for bad in [
            "",
            "ftp://a",
            "http://",
            "http://1.2.3",
            "http://256.1.1.1",
            "http://01.1.1.1",
            "http://a:65536",
            "http://a:",
            "http://a/?q=1",
            "http://a/#x",
            "http://a b",
            "http://-a",
            "http://a..b",
            "http://user@a",
        ] {
            assert!(!is_plain_http_url(bad), "{bad}");
        }
    }
}
