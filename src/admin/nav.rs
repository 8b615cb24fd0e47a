//! The left navigation: sections of pages, each entry shown only to those who may open it.
//! HR's section needs the `directory` power, IT's the `access` power; a section with no page
//! yet (or none the person may open) is not shown. Add an entry here when its page exists.

use crate::auth::{AdminPower, Powers};

/// One link in the navigation.
pub struct NavEntry {
    /// Matches the `active` id a page passes to `Chrome::new`.
    pub id: &'static str,
    /// i18n key of the label.
    pub label: &'static str,
    pub href: &'static str,
    /// The icon's name in `icons.rs`.
    pub icon: &'static str,
}

/// A group of links with a heading, shown to holders of `power` (any administrator: `None`).
pub struct NavSection {
    /// i18n key of the heading.
    pub heading: &'static str,
    pub power: Option<AdminPower>,
    pub entries: &'static [NavEntry],
}

pub const SECTIONS: &[NavSection] = &[
    NavSection {
        heading: "nav.section.overview",
        power: None,
        entries: &[
            NavEntry {
                id: "dashboard",
                label: "nav.dashboard",
                href: "/admin",
                icon: "dashboard",
            },
            NavEntry {
                id: "audit",
                label: "nav.audit",
                href: "/admin/audit",
                icon: "audit",
            },
        ],
    },
    // HR (directory power): the org chart and the staff list.
    NavSection {
        heading: "nav.section.directory",
        power: Some(AdminPower::Directory),
        entries: &[
            NavEntry {
                id: "org",
                label: "nav.org",
                href: "/admin/org",
                icon: "org",
            },
            NavEntry {
                id: "staff",
                label: "nav.staff",
                href: "/admin/staff",
                icon: "people",
            },
        ],
    },
    // IT (access power): roles and rules, "view as", LDAP and messaging pages go here.
    NavSection {
        heading: "nav.section.access",
        power: Some(AdminPower::Access),
        entries: &[
            NavEntry {
                id: "roles",
                label: "nav.roles",
                href: "/admin/roles",
                icon: "shield",
            },
            NavEntry {
                id: "rules",
                label: "nav.rules",
                href: "/admin/rules",
                icon: "rules",
            },
            NavEntry {
                id: "view_as",
                label: "nav.view_as",
                href: "/admin/view-as",
                icon: "eye",
            },
            NavEntry {
                id: "im_settings",
                label: "nav.im_settings",
                href: "/admin/messaging",
                icon: "chat",
            },
            NavEntry {
                id: "groups",
                label: "nav.groups",
                href: "/admin/groups",
                icon: "groups",
            },
            NavEntry {
                id: "announcements",
                label: "nav.announcements",
                href: "/admin/announcements",
                icon: "megaphone",
            },
            NavEntry {
                id: "api_keys",
                label: "nav.api_keys",
                href: "/admin/api-keys",
                icon: "key",
            },
            NavEntry {
                id: "apps",
                label: "nav.apps",
                href: "/admin/apps",
                icon: "chat",
            },
            NavEntry {
                id: "webhooks",
                label: "nav.webhooks",
                href: "/admin/webhooks",
                icon: "link",
            },
            NavEntry {
                id: "mail",
                label: "nav.mail",
                href: "/admin/mail",
                icon: "mail",
            },
            NavEntry {
                id: "ldap",
                label: "nav.ldap",
                href: "/admin/ldap",
                icon: "link",
            },
            NavEntry {
                id: "ldap_runs",
                label: "nav.ldap_runs",
                href: "/admin/ldap/runs",
                icon: "sync",
            },
        ],
    },
];

/// A section as one person sees it.
pub struct VisibleSection {
    pub heading: &'static str,
    pub entries: Vec<VisibleEntry>,
}

pub struct VisibleEntry {
    pub label: &'static str,
    pub href: &'static str,
    pub icon: &'static str,
    pub active: bool,
}

/// The sections `powers` may see, with the `active` page marked.
pub fn visible(powers: Powers, active: &str) -> Vec<VisibleSection> {
    SECTIONS
        .iter()
        .filter(|s| s.power.is_none_or(|p| powers.has(p)) && !s.entries.is_empty())
        .map(|s| VisibleSection {
            heading: s.heading,
            entries: s
                .entries
                .iter()
                .map(|e| VisibleEntry {
                    label: e.label,
                    href: e.href,
                    icon: e.icon,
                    active: e.id == active,
                })
                .collect(),
        })
        .collect()
}
