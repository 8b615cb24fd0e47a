//! Turns LDAP entries into the records a sync applies. Each entry maps on its own: a bad
//! entry is reported with its reason and skipped, never stopping the rest.

use std::collections::BTreeMap;

use super::{
    connection::Entry,
    dn::{normalize_dn, parent_dn, rdn_value},
};
use crate::config::ldap::LdapConfig;
use crate::directory::CustomFields;

/// A department as LDAP has it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteDepartment {
    pub dn: String,
    /// Normalised DN (lower case, no spaces after commas).
    pub ndn: String,
    pub stable_id: String,
    pub name: String,
    pub dept_type: String,
    pub parent_ndn: Option<String>,
}

/// A person as LDAP has them.
#[derive(Debug, Clone, PartialEq)]
pub struct RemoteStaff {
    pub dn: String,
    pub ndn: String,
    pub stable_id: String,
    pub login: String,
    pub display_name: String,
    pub title: String,
    pub emails: Vec<String>,
    pub phones: Vec<String>,
    pub staff_type: String,
    pub custom: CustomFields,
    /// The normalised DN of the entry's parent (a department OU, if synced).
    pub parent_ndn: Option<String>,
    /// Values of the department attribute (names or OU names).
    pub department_names: Vec<String>,
    pub modified: Option<String>,
}

/// A group and its direct members (normalised DNs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RemoteGroup {
    pub ndn: String,
    pub members: Vec<String>,
}

/// An entry that could not be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
pub struct RecordFailure {
    pub dn: String,
    pub reason: String,
}

/// Reads the stable id: `entryUUID`-style text, or AD's binary `objectGUID` rendered the way
/// AD displays it (the first three groups little-endian).
pub fn stable_id(entry: &Entry, attribute: &str) -> Option<String> {
    // 16 random GUID bytes are now and then valid UTF-8, and then arrive as text.
    let guid_as_text = attribute.eq_ignore_ascii_case("objectGUID")
        && entry.first(attribute).is_some_and(|t| t.len() == 16);
    if let Some(text) = entry.first(attribute).filter(|_| !guid_as_text) {
        return Some(text.trim().to_lowercase());
    }
    let raw = match entry.bin_attrs.get(&attribute.to_lowercase()) {
        Some(values) => values.first()?.as_slice(),
        None => entry
            .attrs
            .get(&attribute.to_lowercase())?
            .first()?
            .as_bytes(),
    };
    let b: &[u8; 16] = raw.try_into().ok()?;
    Some(format!(
        "{:02x}{:02x}{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}-{:02x}{:02x}{:02x}{:02x}{:02x}{:02x}",
        b[3],
        b[2],
        b[1],
        b[0],
        b[5],
        b[4],
        b[7],
        b[6],
        b[8],
        b[9],
        b[10],
        b[11],
        b[12],
        b[13],
        b[14],
        b[15]
    ))
}

/// Attributes to ask for when reading departments.
pub fn department_attributes(config: &LdapConfig) -> Vec<String> {
    let a = &config.department_attributes;
    vec![
        config.stable_id.clone(),
        a.name.clone(),
        a.dept_type.clone(),
        "ou".into(),
    ]
}

/// Attributes to ask for when reading people.
pub fn staff_attributes(config: &LdapConfig) -> Vec<String> {
    let a = &config.staff_attributes;
    let mut attrs = vec![
        config.stable_id.clone(),
        a.login.clone(),
        a.display_name.clone(),
        "cn".into(),
        a.title.clone(),
        a.staff_type.clone(),
        a.department.clone(),
        config.change_attribute.clone(),
    ];
    attrs.extend(a.emails.iter().cloned());
    attrs.extend(a.phones.iter().cloned());
    attrs.extend(a.custom.values().cloned());
    attrs
}

fn failure(dn: &str, reason: impl Into<String>) -> RecordFailure {
    RecordFailure {
        dn: dn.to_owned(),
        reason: reason.into(),
    }
}

pub fn department(entry: &Entry, config: &LdapConfig) -> Result<RemoteDepartment, RecordFailure> {
    let a = &config.department_attributes;
    let stable_id = stable_id(entry, &config.stable_id)
        .ok_or_else(|| failure(&entry.dn, format!("missing {}", config.stable_id)))?;
    let name = entry
        .first(&a.name)
        .map(str::to_owned)
        .unwrap_or_else(|| rdn_value(&entry.dn));
    let dept_type = entry
        .first(&a.dept_type)
        .map(|t| t.trim().to_lowercase())
        .unwrap_or_else(|| a.default_type.clone());
    Ok(RemoteDepartment {
        ndn: normalize_dn(&entry.dn),
        parent_ndn: parent_dn(&entry.dn).map(normalize_dn),
        dn: entry.dn.clone(),
        stable_id,
        name,
        dept_type,
    })
}

pub fn staff(entry: &Entry, config: &LdapConfig) -> Result<RemoteStaff, RecordFailure> {
    let a = &config.staff_attributes;
    let stable_id = stable_id(entry, &config.stable_id)
        .ok_or_else(|| failure(&entry.dn, format!("missing {}", config.stable_id)))?;
    let login = entry
        .first(&a.login)
        .ok_or_else(|| failure(&entry.dn, format!("missing {}", a.login)))?
        .to_owned();
    let display_name = entry
        .first(&a.display_name)
        .or_else(|| entry.first("cn"))
        .ok_or_else(|| failure(&entry.dn, format!("missing {} and cn", a.display_name)))?
        .to_owned();
    let collect = |names: &[String]| -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for name in names {
            for value in entry.all(name) {
                let value = value.trim();
                if !value.is_empty() && !out.iter().any(|v| v == value) {
                    out.push(value.to_owned());
                }
            }
        }
        out
    };
    let mut custom = BTreeMap::new();
    for (key, attribute) in &a.custom {
        if let Some(value) = entry.first(attribute) {
            custom.insert(key.clone(), serde_json::Value::String(value.to_owned()));
        }
    }
    Ok(RemoteStaff {
        ndn: normalize_dn(&entry.dn),
        parent_ndn: parent_dn(&entry.dn).map(normalize_dn),
        dn: entry.dn.clone(),
        stable_id,
        login,
        display_name,
        title: entry.first(&a.title).unwrap_or_default().to_owned(),
        emails: collect(&a.emails),
        phones: collect(&a.phones),
        staff_type: entry
            .first(&a.staff_type)
            .map(|t| t.trim().to_lowercase())
            .unwrap_or_else(|| a.default_staff_type.clone()),
        custom,
        department_names: entry.all(&a.department).to_vec(),
        modified: entry.first(&config.change_attribute).map(str::to_owned),
    })
}

pub fn group(entry: &Entry, config: &LdapConfig) -> RemoteGroup {
    RemoteGroup {
        ndn: normalize_dn(&entry.dn),
        members: entry
            .all(&config.group_member_attribute)
            .iter()
            .map(|m| normalize_dn(m))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn object_guid_reads_like_active_directory_shows_it() {
        let mut entry = Entry::default();
        entry.bin_attrs.insert(
            "objectguid".into(),
            vec![vec![
                0x78, 0x56, 0x34, 0x12, 0x34, 0x12, 0x78, 0x56, 0x12, 0x34, 0x56, 0x78, 0x9a, 0xbc,
                0xde, 0xf0,
            ]],
        );
        assert_eq!(
            stable_id(&entry, "objectGUID").unwrap(),
            "12345678-1234-5678-1234-56789abcdef0"
        );
        let mut text = Entry::default();
        text.attrs.insert("entryuuid".into(), vec!["AB-CD".into()]);
        assert_eq!(stable_id(&text, "entryUUID").unwrap(), "ab-cd");
    }
}
