//! Every mail's words: askama templates in `templates/mail/` (`.txt` for the plain-text part,
//! `.html` — auto-escaped, so a name such as `<script>` stays text — for the HTML part), in
//! the recipient's language. Subjects are here.

use askama::Template;

use super::{MailError, settings::Language};

/// A rendered mail: subject, plain text, HTML.
pub(crate) struct Rendered {
    pub subject: String,
    pub text: String,
    pub html: String,
}

macro_rules! mail_templates {
    ($data:ident, $text:ident = $text_path:literal, $html:ident = $html_path:literal) => {
        #[derive(Template)]
        #[template(path = $text_path)]
        struct $text<'a> {
            d: &'a $data,
        }

        #[derive(Template)]
        #[template(path = $html_path)]
        struct $html<'a> {
            d: &'a $data,
        }

        impl $data {
            fn parts(&self) -> Result<(String, String), MailError> {
                Ok(($text { d: self }.render()?, $html { d: self }.render()?))
            }
        }
    };
}

/// "It works": sent from the settings page.
pub(crate) struct TestMail {
    pub lang: Language,
    pub base_url: String,
    pub requested_by: String,
}
mail_templates!(
    TestMail,
    TestText = "mail/test.txt",
    TestHtml = "mail/test.html"
);

/// To a new member of staff.
pub(crate) struct WelcomeMail {
    pub lang: Language,
    pub name: String,
    pub login: String,
    pub app_url: String,
    /// Local accounts choose their password here; people from LDAP use their company one.
    pub password_url: Option<String>,
}
mail_templates!(
    WelcomeMail,
    WelcomeText = "mail/welcome.txt",
    WelcomeHtml = "mail/welcome.html"
);

/// A link to choose a new password.
pub(crate) struct ResetMail {
    pub lang: Language,
    pub name: String,
    pub login: String,
    pub link: String,
    pub minutes: u64,
}
mail_templates!(
    ResetMail,
    ResetText = "mail/reset.txt",
    ResetHtml = "mail/reset.html"
);

/// One conversation in a digest.
pub(crate) struct DigestItem {
    pub name: String,
    pub unread: u64,
    pub mention: bool,
    /// The newest message, shortened (empty when it has no text to show).
    pub preview: String,
}

/// Unread messages of someone who has been away.
pub(crate) struct DigestMail {
    pub lang: Language,
    pub name: String,
    pub total: u64,
    pub items: Vec<DigestItem>,
    /// Conversations not listed (the digest shows the 20 most recent).
    pub more: usize,
    pub app_url: String,
    pub unsubscribe_url: String,
}
mail_templates!(
    DigestMail,
    DigestText = "mail/digest.txt",
    DigestHtml = "mail/digest.html"
);

/// An LDAP sync run that failed or waits for approval.
pub(crate) struct AlertMail {
    pub lang: Language,
    pub blocked: bool,
    pub run_id: String,
    pub trigger: String,
    pub kind: String,
    pub message: String,
    pub started: String,
    pub disabled: usize,
    pub runs_url: String,
}
mail_templates!(
    AlertMail,
    AlertText = "mail/alert.txt",
    AlertHtml = "mail/alert.html"
);

fn pick(lang: Language, zh: &str, en: &str) -> String {
    if lang.zh() { zh } else { en }.to_owned()
}

impl TestMail {
    pub fn render(&self) -> Result<Rendered, MailError> {
        let (text, html) = self.parts()?;
        Ok(Rendered {
            subject: pick(self.lang, "Switchboard 测试邮件", "Switchboard test mail"),
            text,
            html,
        })
    }
}

impl WelcomeMail {
    pub fn render(&self) -> Result<Rendered, MailError> {
        let (text, html) = self.parts()?;
        Ok(Rendered {
            subject: pick(
                self.lang,
                &format!("欢迎使用 Switchboard，{}", self.name),
                &format!("Welcome to Switchboard, {}", self.name),
            ),
            text,
            html,
        })
    }
}

impl ResetMail {
    pub fn render(&self) -> Result<Rendered, MailError> {
        let (text, html) = self.parts()?;
        Ok(Rendered {
            subject: pick(
                self.lang,
                "重置您的 Switchboard 密码",
                "Reset your Switchboard password",
            ),
            text,
            html,
        })
    }
}

impl DigestMail {
    pub fn render(&self) -> Result<Rendered, MailError> {
        let (text, html) = self.parts()?;
        Ok(Rendered {
            subject: pick(
                self.lang,
                &format!("您有 {} 条未读消息", self.total),
                &format!(
                    "You have {} unread message{}",
                    self.total,
                    if self.total == 1 { "" } else { "s" }
                ),
            ),
            text,
            html,
        })
    }
}

impl AlertMail {
    pub fn render(&self) -> Result<Rendered, MailError> {
        let (text, html) = self.parts()?;
        let subject = match (self.lang.zh(), self.blocked) {
            (true, true) => "[Switchboard] LDAP 同步被拦截，等待批准".to_owned(),
            (true, false) => "[Switchboard] LDAP 同步失败".to_owned(),
            (false, true) => "[Switchboard] LDAP sync blocked: approval needed".to_owned(),
            (false, false) => "[Switchboard] LDAP sync failed".to_owned(),
        };
        Ok(Rendered {
            subject,
            text,
            html,
        })
    }
}

/// A message body shortened for a digest line: its text, or what kind of message it is.
pub(crate) fn preview(lang: Language, kind: &str, body: &str) -> String {
    let body: serde_json::Value = serde_json::from_str(body).unwrap_or_default();
    let text = |key: &str| body.get(key).and_then(|v| v.as_str()).unwrap_or_default();
    let shown = match kind {
        "text" => text("text").to_owned(),
        "image" => pick(lang, "[图片]", "[image]"),
        "file" => format!("{} {}", pick(lang, "[文件]", "[file]"), text("name")),
        "voice" => pick(lang, "[语音]", "[voice message]"),
        "location" => format!("{} {}", pick(lang, "[位置]", "[location]"), text("name")),
        _ => String::new(),
    };
    let shown = shown.split_whitespace().collect::<Vec<_>>().join(" ");
    if shown.chars().count() > 80 {
        format!("{}…", shown.chars().take(80).collect::<String>())
    } else {
        shown
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_stay_text_in_html_and_both_languages_render() {
        for lang in [Language::Zh, Language::En] {
            let mail = WelcomeMail {
                lang,
                name: "<script>alert(1)</script>".into(),
                login: "x".into(),
                app_url: "http://h".into(),
                password_url: Some("http://h/password-reset".into()),
            }
            .render()
            .unwrap();
            assert!(!mail.html.contains("<script>"), "{}", mail.html);
            assert!(mail.html.contains("&#60;script&#62;") || mail.html.contains("&lt;script&gt;"));
            assert!(mail.text.contains("<script>"), "plain text is not escaped");
        }
        assert_eq!(preview(Language::En, "text", r#"{"text":"a\n  b"}"#), "a b");
        assert_eq!(preview(Language::Zh, "image", "{}"), "[图片]");
        assert_eq!(
            preview(
                Language::En,
                "text",
                &format!(r#"{{"text":"{}"}}"#, "x".repeat(100))
            ),
            format!("{}…", "x".repeat(80))
        );
    }
}
