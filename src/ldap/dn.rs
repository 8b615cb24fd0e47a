//! DN text: compare, parent, first RDN value. Pure string work on DNs as servers return them.

/// DNs compare case-insensitively and without spaces after commas.
pub fn normalize_dn(dn: &str) -> String {
    dn.split(',')
        .map(|rdn| rdn.trim().to_lowercase())
        .collect::<Vec<_>>()
        .join(",")
}

/// The parent DN (everything after the first unescaped comma).
pub fn parent_dn(dn: &str) -> Option<&str> {
    let bytes = dn.as_bytes();
    let mut escaped = false;
    for (i, b) in bytes.iter().enumerate() {
        match b {
            b'\\' if !escaped => escaped = true,
            b',' if !escaped => return Some(dn[i + 1..].trim_start()),
            _ => escaped = false,
        }
    }
    None
}

/// The value of the first RDN (`ou=Backend,...` → `Backend`).
pub fn rdn_value(dn: &str) -> &str {
    let first = parent_dn(dn).map_or(dn, |parent| &dn[..dn.len() - parent.len()]);
    let first = first.trim_end_matches([',', ' ']);
    first.split_once('=').map_or(first, |(_, v)| v.trim())
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
}
