//! Talking to the LDAP server: connect (ldap://, ldaps://, StartTLS, a private CA), bind,
//! paged searches (RFC 2696), and a short-lived connection per password check, because a bind
//! on a shared ldap3 connection would change the identity of every clone of it.

use std::{collections::HashMap, sync::Arc};

use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, Scope, SearchEntry,
    adapters::{EntriesOnly, PagedResults},
};

use super::{
    LdapError,
    config::{LdapConfig, SearchScope},
};

/// OID of the simple paged results control (RFC 2696).
const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";

/// One entry as read: DN and attributes (names lower-cased), binary attributes separately.
#[derive(Debug, Clone, Default)]
pub struct Entry {
    pub dn: String,
    pub attrs: HashMap<String, Vec<String>>,
    pub bin_attrs: HashMap<String, Vec<Vec<u8>>>,
}

impl Entry {
    /// The first value of an attribute (case-insensitive name).
    pub fn first(&self, name: &str) -> Option<&str> {
        self.attrs
            .get(&name.to_lowercase())
            .and_then(|v| v.first())
            .map(String::as_str)
            .filter(|v| !v.trim().is_empty())
    }

    pub fn all(&self, name: &str) -> &[String] {
        self.attrs
            .get(&name.to_lowercase())
            .map_or(&[], Vec::as_slice)
    }

    fn from_search_entry(entry: SearchEntry) -> Self {
        Self {
            dn: entry.dn,
            attrs: entry
                .attrs
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
            bin_attrs: entry
                .bin_attrs
                .into_iter()
                .map(|(k, v)| (k.to_lowercase(), v))
                .collect(),
        }
    }
}

fn tls_config(config: &LdapConfig) -> Result<Option<Arc<rustls::ClientConfig>>, LdapError> {
    let Some(path) = &config.ca_file else {
        return Ok(None);
    };
    use rustls::pki_types::{CertificateDer, pem::PemObject};
    let mut roots = rustls::RootCertStore::empty();
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| LdapError::Config(format!("ldap.ca_file {}: {e}", path.display())))?;
    for cert in certs {
        let cert =
            cert.map_err(|e| LdapError::Config(format!("ldap.ca_file {}: {e}", path.display())))?;
        roots
            .add(cert)
            .map_err(|e| LdapError::Config(format!("ldap.ca_file {}: {e}", path.display())))?;
    }
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| LdapError::Config(format!("TLS: {e}")))?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Some(Arc::new(tls)))
}

/// Opens a connection (not yet bound); its driver runs on the runtime until dropped.
pub async fn connect(config: &LdapConfig) -> Result<Ldap, LdapError> {
    let mut settings = LdapConnSettings::new()
        .set_conn_timeout(config.connect_timeout)
        .set_starttls(config.start_tls);
    if let Some(tls) = tls_config(config)? {
        settings = settings.set_config(tls);
    }
    let (conn, mut ldap) = tokio::time::timeout(
        config.connect_timeout,
        LdapConnAsync::with_settings(settings, &config.url),
    )
    .await
    .map_err(|_| LdapError::Unreachable(format!("connecting to {} timed out", config.url)))?
    .map_err(|e| LdapError::Unreachable(format!("{}: {e}", config.url)))?;
    tokio::spawn(async move {
        if let Err(error) = conn.drive().await {
            tracing::debug!(%error, "LDAP connection closed");
        }
    });
    ldap.with_timeout(config.operation_timeout);
    Ok(ldap)
}

/// Connects and binds as the service account.
pub async fn service_connection(config: &LdapConfig) -> Result<Ldap, LdapError> {
    let mut ldap = connect(config).await?;
    ldap.with_timeout(config.operation_timeout);
    let result = ldap
        .simple_bind(&config.bind_dn, config.bind_password.expose())
        .await
        .map_err(|e| LdapError::Unreachable(format!("bind: {e}")))?;
    if result.rc != 0 {
        return Err(LdapError::Bind(format!(
            "the service account {} was refused (result {}: {})",
            config.bind_dn, result.rc, result.text
        )));
    }
    Ok(ldap)
}

/// Checks a password by binding as `dn` on a fresh connection. An empty password is refused
/// here: LDAP would treat it as an anonymous bind and "succeed".
pub async fn check_password(
    config: &LdapConfig,
    dn: &str,
    password: &str,
) -> Result<bool, LdapError> {
    if password.is_empty() {
        return Ok(false);
    }
    let mut ldap = connect(config).await?;
    ldap.with_timeout(config.operation_timeout);
    let result = ldap
        .simple_bind(dn, password)
        .await
        .map_err(|e| LdapError::Unreachable(format!("bind: {e}")))?;
    let _ = ldap.unbind().await;
    Ok(result.rc == 0)
}

/// Whether the server announces the paged-results control in its root DSE.
pub async fn supports_paging(ldap: &mut Ldap) -> Result<bool, LdapError> {
    let (entries, _) = ldap
        .search("", Scope::Base, "(objectClass=*)", vec!["supportedControl"])
        .await
        .map_err(|e| LdapError::Unreachable(format!("root DSE: {e}")))?
        .success()
        .map_err(|e| LdapError::Search(format!("root DSE: {e}")))?;
    Ok(entries.into_iter().filter_map(construct).any(|e| {
        e.all("supportedControl")
            .iter()
            .any(|oid| oid == PAGED_RESULTS_OID)
    }))
}

/// Parses a raw entry; the BER parser panics on malformed input, which must not take the sync
/// (or the server) down with it.
fn construct(raw: ldap3::ResultEntry) -> Option<Entry> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| SearchEntry::construct(raw)))
        .ok()
        .map(Entry::from_search_entry)
}

/// Runs a search, paged when `paged`, and returns every entry — or an error if any page failed
/// (a partial result must never be mistaken for the whole directory).
pub async fn search_all(
    ldap: &mut Ldap,
    config: &LdapConfig,
    base: &str,
    scope: SearchScope,
    filter: &str,
    attrs: Vec<String>,
    paged: bool,
) -> Result<(Vec<Entry>, usize), LdapError> {
    let scope = match scope {
        SearchScope::One => Scope::OneLevel,
        SearchScope::Sub => Scope::Subtree,
    };
    let mut stream = if paged {
        let adapters: Vec<Box<dyn ldap3::adapters::Adapter<_, _>>> = vec![
            Box::new(EntriesOnly::new()),
            Box::new(PagedResults::new(config.page_size)),
        ];
        ldap.streaming_search_with(adapters, base, scope, filter, attrs)
            .await
    } else {
        ldap.streaming_search(base, scope, filter, attrs).await
    }
    .map_err(|e| LdapError::Search(format!("{base}: {e}")))?;
    let mut entries = Vec::new();
    let mut unreadable = 0;
    loop {
        match stream.next().await {
            Ok(Some(raw)) => match construct(raw) {
                Some(entry) => entries.push(entry),
                None => unreadable += 1,
            },
            Ok(None) => break,
            Err(e) => return Err(LdapError::Search(format!("{base}: {e}"))),
        }
    }
    let result = stream.finish().await;
    if result.rc != 0 {
        return Err(LdapError::Search(format!(
            "{base}: result {} {}{}",
            result.rc,
            result.text,
            if result.rc == 4 {
                " (size limit: is paging supported and allowed?)"
            } else {
                ""
            }
        )));
    }
    Ok((entries, unreadable))
}
