//! Admin powers: what an administrator may change. HR edits the directory (departments, staff,
//! custom fields); IT governs access and integrations (roles, rules, assignments, LDAP, API
//! keys, webhooks, messaging settings). Every administrator may read the admin API; writes need
//! the power. A role marked `is_admin` carries both.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One admin power.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, ToSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum AdminPower {
    /// Departments, staff, memberships, custom fields, local passwords.
    Directory,
    /// Roles, rules, assignments, "view as", LDAP, API keys, webhooks, messaging settings.
    Access,
}

impl AdminPower {
    pub const ALL: [AdminPower; 2] = [AdminPower::Directory, AdminPower::Access];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Directory => "directory",
            Self::Access => "access",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|p| p.as_str() == text)
    }
}

/// A set of admin powers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct Powers {
    directory: bool,
    access: bool,
}

impl Powers {
    pub const NONE: Powers = Powers {
        directory: false,
        access: false,
    };
    pub const ALL: Powers = Powers {
        directory: true,
        access: true,
    };

    pub fn from_list(powers: impl IntoIterator<Item = AdminPower>) -> Self {
        powers.into_iter().fold(Self::NONE, |mut set, power| {
            match power {
                AdminPower::Directory => set.directory = true,
                AdminPower::Access => set.access = true,
            }
            set
        })
    }

    pub fn has(self, power: AdminPower) -> bool {
        match power {
            AdminPower::Directory => self.directory,
            AdminPower::Access => self.access,
        }
    }

    /// Whether these are any admin powers at all (the admin API and portal are open).
    pub fn any(self) -> bool {
        self.directory || self.access
    }

    pub fn is_all(self) -> bool {
        self == Self::ALL
    }

    pub fn union(self, other: Self) -> Self {
        Self {
            directory: self.directory || other.directory,
            access: self.access || other.access,
        }
    }

    /// Whether `self` holds every power `other` holds.
    pub fn covers(self, other: Self) -> bool {
        self.union(other) == self
    }

    pub fn list(self) -> Vec<AdminPower> {
        AdminPower::ALL
            .into_iter()
            .filter(|p| self.has(*p))
            .collect()
    }

    /// The stored form: power names joined by commas (`""` for none).
    pub fn to_text(self) -> String {
        self.list()
            .iter()
            .map(|p| p.as_str())
            .collect::<Vec<_>>()
            .join(",")
    }

    /// Reads the stored form; unknown names are ignored (a newer version may add powers).
    pub fn from_text(text: &str) -> Self {
        Self::from_list(text.split(',').filter_map(|p| AdminPower::parse(p.trim())))
    }
}

impl Serialize for Powers {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.list().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Powers {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        Ok(Self::from_list(Vec::<AdminPower>::deserialize(
            deserializer,
        )?))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_text_round_trips() {
        for powers in [
            Powers::NONE,
            Powers::ALL,
            Powers::from_list([AdminPower::Directory]),
            Powers::from_list([AdminPower::Access]),
        ] {
            assert_eq!(Powers::from_text(&powers.to_text()), powers);
        }
        assert_eq!(
            Powers::from_text("access, future_power"),
            Powers::from_list([AdminPower::Access])
        );
        assert!(Powers::ALL.covers(Powers::from_list([AdminPower::Access])));
        assert!(!Powers::from_list([AdminPower::Access]).covers(Powers::ALL));
    }
}
