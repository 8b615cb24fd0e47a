//! The portal's icons: small stroke drawings as inline SVG, by name. Constant markup of ours
//! (never data), so templates may print it unescaped: `{{ c.icon("people")|safe }}`.

macro_rules! head {
    () => {
        r#"<svg class="icon" viewBox="0 0 24 24" width="18" height="18" fill="none" stroke="currentColor" stroke-width="1.8" stroke-linecap="round" stroke-linejoin="round" aria-hidden="true" focusable="false">"#
    };
}

/// The SVG of icon `name` (a plain circle for an unknown name).
pub fn svg(name: &str) -> &'static str {
    match name {
        "dashboard" => concat!(
            head!(),
            r#"<rect x="3" y="3" width="7" height="9" rx="1.5"/><rect x="14" y="3" width="7" height="5" rx="1.5"/><rect x="14" y="12" width="7" height="9" rx="1.5"/><rect x="3" y="16" width="7" height="5" rx="1.5"/>"#,
            "</svg>"
        ),
        "audit" => concat!(
            head!(),
            r#"<path d="M9 4h6l4 4v12a1 1 0 0 1-1 1H6a1 1 0 0 1-1-1V5a1 1 0 0 1 1-1z"/><path d="M15 4v4h4"/><path d="M9 13h6M9 17h4"/>"#,
            "</svg>"
        ),
        "docs" => concat!(
            head!(),
            r#"<path d="M4 5a2 2 0 0 1 2-2h13v16H6a2 2 0 0 0-2 2z"/><path d="M4 21V5"/><path d="M9 7h6M9 11h6"/>"#,
            "</svg>"
        ),
        "menu" => concat!(head!(), r#"<path d="M4 6h16M4 12h16M4 18h16"/>"#, "</svg>"),
        "org" => concat!(
            head!(),
            r#"<rect x="9" y="3" width="6" height="5" rx="1"/><rect x="3" y="16" width="6" height="5" rx="1"/><rect x="15" y="16" width="6" height="5" rx="1"/><path d="M12 8v4M6 16v-2h12v2"/>"#,
            "</svg>"
        ),
        "people" => concat!(
            head!(),
            r#"<circle cx="9" cy="8" r="3.5"/><path d="M3 20c0-3.3 2.7-6 6-6s6 2.7 6 6"/><path d="M16 4.5a3.5 3.5 0 0 1 0 7M18 14c2 .8 3 3 3 6"/>"#,
            "</svg>"
        ),
        "shield" => concat!(
            head!(),
            r#"<path d="M12 3l8 3v6c0 5-3.5 8-8 9-4.5-1-8-4-8-9V6z"/><path d="M9 12l2 2 4-4"/>"#,
            "</svg>"
        ),
        "link" => concat!(
            head!(),
            r#"<path d="M10 14a4 4 0 0 0 5.7 0l3-3a4 4 0 0 0-5.7-5.7l-1 1"/><path d="M14 10a4 4 0 0 0-5.7 0l-3 3a4 4 0 0 0 5.7 5.7l1-1"/>"#,
            "</svg>"
        ),
        "chat" => concat!(head!(), r#"<path d="M4 5h16v11H9l-5 4z"/>"#, "</svg>"),
        "mail" => concat!(
            head!(),
            r#"<rect x="3" y="5" width="18" height="14" rx="2"/><path d="M3 7l9 6 9-6"/>"#,
            "</svg>"
        ),
        "key" => concat!(
            head!(),
            r#"<circle cx="8" cy="15" r="4"/><path d="M11 12l9-9M17 6l3 3M15 8l2 2"/>"#,
            "</svg>"
        ),
        "online" => concat!(
            head!(),
            r#"<circle cx="12" cy="12" r="4"/><path d="M5 12a7 7 0 0 1 14 0M2 12a10 10 0 0 1 20 0"/>"#,
            "</svg>"
        ),
        "sync" => concat!(
            head!(),
            r#"<path d="M20 11a8 8 0 0 0-14.5-4.5L4 8"/><path d="M4 4v4h4"/><path d="M4 13a8 8 0 0 0 14.5 4.5L20 16"/><path d="M20 20v-4h-4"/>"#,
            "</svg>"
        ),
        "logout" => concat!(
            head!(),
            r#"<path d="M15 4h3a2 2 0 0 1 2 2v12a2 2 0 0 1-2 2h-3"/><path d="M10 16l-4-4 4-4M6 12h10"/>"#,
            "</svg>"
        ),
        "rules" => concat!(head!(), r#"<path d="M4 5h16l-6 7v6l-4 2v-8z"/>"#, "</svg>"),
        "eye" => concat!(
            head!(),
            r#"<path d="M2 12s3.5-7 10-7 10 7 10 7-3.5 7-10 7S2 12 2 12z"/><circle cx="12" cy="12" r="3"/>"#,
            "</svg>"
        ),
        "groups" => concat!(
            head!(),
            r#"<path d="M3 5h12v8H8l-5 4z"/><path d="M18 9h3v9l-3-2.5h-6V16"/>"#,
            "</svg>"
        ),
        "megaphone" => concat!(
            head!(),
            r#"<path d="M3 10v4h4l9 5V5L7 10z"/><path d="M19 9.5a3.5 3.5 0 0 1 0 5"/><path d="M7 14l1.5 5H11l-1-5"/>"#,
            "</svg>"
        ),
        _ => concat!(head!(), r#"<circle cx="12" cy="12" r="8"/>"#, "</svg>"),
    }
}
