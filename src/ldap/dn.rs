//! DN text: compare, parent, first RDN value. Pure string work on DNs as servers return them,
//! with RFC 4514 escapes (`\,`, `\2C`) honoured: a comma inside an OU's name is not a separator.

/// Splits a DN at its unescaped commas, keeping each RDN's text as written.
fn rdns(dn: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let mut start = 0;
    let mut escaped = false;
    for (i, b) in dn.bytes().enumerate() {
        match b {
            b'\\' if !escaped => escaped = true,
            b',' if !escaped => {
                out.push(&dn[start..i]);
                start = i + 1;
            }
            _ => escaped = false,
        }
    }
    out.push(&dn[start..]);
    out
}

/// An attribute value with its RFC 4514 escapes undone (`Sales\, EMEA` → `Sales, EMEA`,
/// `\E5\BC\A0` → `张`). Text that is not valid UTF-8 once decoded is kept as written.
pub fn unescape_value(value: &str) -> String {
    let bytes = value.as_bytes();
    let mut out: Vec<u8> = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && i + 1 < bytes.len() {
            let hex = bytes
                .get(i + 1..i + 3)
                .filter(|h| h.iter().all(u8::is_ascii_hexdigit))
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok());
            match hex {
                Some(byte) => {
                    out.push(byte);
                    i += 3;
                }
                None => {
                    out.push(bytes[i + 1]);
                    i += 2;
                }
            }
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).unwrap_or_else(|_| value.to_owned())
}

/// One RDN in a canonical form: type and value lower-cased, the value unescaped and escaped
/// again the one way, so `OU=Sales\2C EMEA` and `ou=sales\, emea` compare equal.
fn normalize_rdn(rdn: &str) -> String {
    match rdn.split_once('=') {
        Some((kind, value)) => format!(
            "{}={}",
            kind.trim().to_lowercase(),
            ldap3::dn_escape(unescape_value(value.trim()).to_lowercase())
        ),
        None => rdn.trim().to_lowercase(),
    }
}

/// DNs compare case-insensitively, without spaces around the separators, and whatever way
/// their special characters were escaped.
pub fn normalize_dn(dn: &str) -> String {
    rdns(dn)
        .into_iter()
        .map(normalize_rdn)
        .collect::<Vec<_>>()
        .join(",")
}

/// The parent DN (everything after the first unescaped comma).
pub fn parent_dn(dn: &str) -> Option<&str> {
    let first = rdns(dn).into_iter().next()?;
    (first.len() < dn.len()).then(|| dn[first.len() + 1..].trim_start())
}

/// The first RDN as written (`uid=a\,b` of `uid=a\,b,ou=RD,dc=x`).
pub fn first_rdn(dn: &str) -> &str {
    rdns(dn).into_iter().next().unwrap_or(dn).trim()
}

/// The value of the first RDN, unescaped (`ou=Sales\, EMEA,...` → `Sales, EMEA`).
pub fn rdn_value(dn: &str) -> String {
    let first = first_rdn(dn);
    unescape_value(first.split_once('=').map_or(first, |(_, v)| v.trim()))
}

/// `dn` with its ancestor `old_base` replaced by `new_base`, if `dn` lies under `old_base`.
pub fn rebase(dn: &str, old_base: &str, new_base: &str) -> Option<String> {
    let parts = rdns(dn);
    let base_len = rdns(old_base).len();
    if parts.len() <= base_len {
        return None;
    }
    let split = parts.len() - base_len;
    let tail = parts[split..].join(",");
    (normalize_dn(&tail) == normalize_dn(old_base)).then(|| {
        let head: Vec<&str> = parts[..split].iter().map(|p| p.trim()).collect();
        format!("{},{new_base}", head.join(","))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dn_helpers() {
        assert_eq!(
            normalize_dn("OU=RD, ou=Stellar,DC=Example"),
            "ou=rd,ou=stellar,dc=example"
        );
        assert_eq!(parent_dn("uid=a,ou=RD,dc=x"), Some("ou=RD,dc=x"));
        assert_eq!(parent_dn("uid=a\\,b,ou=RD"), Some("ou=RD"));
        assert_eq!(parent_dn("dc=x"), None);
        assert_eq!(rdn_value("ou=Backend,ou=RD,dc=x"), "Backend");
        assert_eq!(rdn_value("dc=x"), "x");
    }

    #[test]
    fn escaped_characters_are_part_of_the_value() {
        let dn = "OU=Sales\\, EMEA,OU=Company,DC=corp";
        assert_eq!(rdn_value(dn), "Sales, EMEA");
        assert_eq!(parent_dn(dn), Some("OU=Company,DC=corp"));
        assert_eq!(first_rdn(dn), "OU=Sales\\, EMEA");
        // The same DN escaped the hex way, in other case and spacing, is the same DN.
        assert_eq!(
            normalize_dn(dn),
            normalize_dn("ou=sales\\2C EMEA, ou=company, dc=CORP")
        );
        assert_ne!(normalize_dn(dn), normalize_dn("OU=Sales,OU=EMEA,DC=corp"));
        assert_eq!(rdn_value("CN=\\E5\\BC\\A0\\E4\\BC\\9F,OU=x"), "张伟");
        assert_eq!(rdn_value("CN=a\\+b\\\\c,OU=x"), "a+b\\c");
    }

    #[test]
    fn rebase_follows_a_renamed_ancestor() {
        assert_eq!(
            rebase(
                "CN=Zhang Wei,OU=Sales\\, EMEA,DC=corp",
                "ou=sales\\, emea,dc=corp",
                "OU=Sales and Marketing,DC=corp"
            )
            .as_deref(),
            Some("CN=Zhang Wei,OU=Sales and Marketing,DC=corp")
        );
        assert_eq!(
            rebase("OU=Sales,DC=corp", "OU=Sales,DC=corp", "OU=X,DC=corp"),
            None
        );
        assert_eq!(
            rebase("CN=a,OU=Other,DC=corp", "OU=Sales,DC=corp", "OU=X,DC=corp"),
            None
        );
    }
}
