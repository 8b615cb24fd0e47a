//! Talking to the LDAP server: connect (ldap://, ldaps://, StartTLS, a private CA), bind,
//! paged searches (RFC 2696), and a short-lived connection per password check, because a bind
//! on a shared ldap3 connection would change the identity of every clone of it.

use std::{
    collections::{HashMap, HashSet},
    panic::{AssertUnwindSafe, catch_unwind},
    sync::Arc,
    time::Duration,
};

use ldap3::{
    Ldap, LdapConnAsync, LdapConnSettings, ResultEntry, Scope, SearchEntry,
    adapters::{EntriesOnly, PagedResults},
    controls::{
        ControlType, EntryState, RefreshMode, SyncDone, SyncInfo, SyncRequest, SyncState,
        parse_syncinfo,
    },
};

use super::LdapError;
use crate::config::ldap::{LdapConfig, SearchScope};

/// OID of the simple paged results control (RFC 2696).
const PAGED_RESULTS_OID: &str = "1.2.840.113556.1.4.319";
/// OID of the content synchronisation request control (RFC 4533).
const SYNC_REQUEST_OID: &str = "1.3.6.1.4.1.4203.1.9.1.1";

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
    .map_err(|e| connect_error(config, e))?;
    tokio::spawn(async move {
        if let Err(error) = conn.drive().await {
            tracing::debug!(%error, "LDAP connection closed");
        }
    });
    ldap.with_timeout(config.operation_timeout);
    Ok(ldap)
}

/// Says what went wrong while connecting: the server refused StartTLS, the TLS handshake
/// failed (an untrusted certificate, a name mismatch), or the server could not be reached.
fn connect_error(config: &LdapConfig, error: ldap3::LdapError) -> LdapError {
    let url = &config.url;
    match error {
        ldap3::LdapError::LdapResult { result } if config.start_tls => LdapError::Tls(format!(
            "{url} refused StartTLS (result {}{}{}); enable TLS on the server, or use ldaps://",
            result.rc,
            if result.text.is_empty() { "" } else { ": " },
            result.text
        )),
        ldap3::LdapError::Io { source } => {
            let tls = source
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<rustls::Error>())
                .map(ToString::to_string);
            match tls {
                Some(tls) => LdapError::Tls(format!(
                    "TLS handshake with {url} failed: {tls}{}",
                    if config.ca_file.is_none() {
                        " (set ldap.ca_file to the CA that signed the server's certificate)"
                    } else {
                        " (the certificate must be signed by ldap.ca_file's CA and name the URL's host in its subject alternative names)"
                    }
                )),
                None => LdapError::Unreachable(format!("{url}: {source}")),
            }
        }
        other => LdapError::Unreachable(format!("{url}: {other}")),
    }
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

/// Checks a password by binding as `dn` on a fresh connection: `Err(reason)` when the
/// server refuses the bind. An empty password is refused here: LDAP would treat it as an
/// anonymous bind and "succeed".
pub async fn check_password(
    config: &LdapConfig,
    dn: &str,
    password: &str,
) -> Result<Result<(), String>, LdapError> {
    if password.is_empty() {
        return Ok(Err("empty password".into()));
    }
    let mut ldap = connect(config).await?;
    let result = ldap
        .simple_bind(dn, password)
        .await
        .map_err(|e| LdapError::Unreachable(format!("bind: {e}")))?;
    let _ = ldap.unbind().await;
    Ok(if result.rc == 0 {
        Ok(())
    } else {
        Err(format!("result {} {}", result.rc, result.text)
            .trim()
            .to_owned())
    })
}

/// Whether the search matches anyone at all (one entry is enough; a size limit is fine).
pub async fn matches_anyone(
    ldap: &mut Ldap,
    timeout: Duration,
    base: &str,
    scope: SearchScope,
    filter: &str,
) -> Result<bool, LdapError> {
    let result = ldap
        .with_search_options(ldap3::SearchOptions::new().sizelimit(1))
        .with_timeout(timeout)
        .search(base, ldap_scope(scope), filter, vec!["1.1"])
        .await
        .map_err(|e| LdapError::Search(format!("{base}: {e}")))?;
    let (entries, rc, text) = (result.0, result.1.rc, result.1.text);
    match rc {
        0 | 4 => Ok(!entries.is_empty()),
        32 => Err(LdapError::Search(format!(
            "{base}: no such object (result 32 {text})"
        ))),
        _ => Err(LdapError::Search(format!("{base}: result {rc} {text}"))),
    }
}

/// Controls the server announces in its root DSE that a sync can use.
#[derive(Debug, Clone, Copy, Default)]
pub struct ServerFeatures {
    /// RFC 2696 paged results.
    pub paging: bool,
    /// RFC 4533 content synchronisation (OpenLDAP's syncprov).
    pub content_sync: bool,
}

pub async fn server_features(
    ldap: &mut Ldap,
    timeout: Duration,
) -> Result<ServerFeatures, LdapError> {
    let (entries, _) = ldap
        .with_timeout(timeout)
        .search("", Scope::Base, "(objectClass=*)", vec!["supportedControl"])
        .await
        .map_err(|e| LdapError::Unreachable(format!("root DSE: {e}")))?
        .success()
        .map_err(|e| LdapError::Search(format!("root DSE: {e}")))?;
    let controls: Vec<String> = entries
        .into_iter()
        .filter_map(construct)
        .flat_map(|e| e.all("supportedControl").to_vec())
        .collect();
    let offered = |oid: &str| controls.iter().any(|c| c == oid);
    Ok(ServerFeatures {
        paging: offered(PAGED_RESULTS_OID),
        content_sync: offered(SYNC_REQUEST_OID),
    })
}

/// Parses a raw entry; the BER parser panics on malformed input, which must not take the sync
/// (or the server) down with it.
fn construct(raw: ResultEntry) -> Option<Entry> {
    catch_unwind(AssertUnwindSafe(|| SearchEntry::construct(raw)))
        .ok()
        .map(Entry::from_search_entry)
}

fn ldap_scope(scope: SearchScope) -> Scope {
    match scope {
        SearchScope::One => Scope::OneLevel,
        SearchScope::Sub => Scope::Subtree,
    }
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
    let scope = ldap_scope(scope);
    // ldap3's timeout holds for one operation only (a stream's every entry included): set it
    // for each, or a server that stops answering stalls the run for ever.
    ldap.with_timeout(config.operation_timeout);
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

/// What an RFC 4533 refreshOnly search returned.
#[derive(Debug, Default)]
pub struct ContentSync {
    /// Entries added or changed since the cookie, with their attributes.
    pub changed: Vec<Entry>,
    pub unreadable: usize,
    /// entryUUIDs that left the search since the cookie (deleted, moved out, no longer
    /// matching the filter): the delete phase.
    pub deleted: HashSet<String>,
    /// entryUUIDs still there unchanged: the present phase.
    pub present: HashSet<String>,
    /// The server used the delete phase: whoever is not in `deleted` is still there. Otherwise
    /// (present phase) whoever is neither changed nor in `present` is gone.
    pub refresh_deletes: bool,
    /// Where the next run starts.
    pub cookie: Option<Vec<u8>>,
}

/// An RFC 4533 content synchronisation in refreshOnly mode: since `cookie` (everything when
/// `None`). Not paged (the protocol does not allow it), so a server's size limit can refuse
/// it; the caller then falls back to a paged search.
pub async fn content_sync(
    ldap: &mut Ldap,
    timeout: Duration,
    base: &str,
    scope: SearchScope,
    filter: &str,
    attrs: Vec<String>,
    cookie: Option<Vec<u8>>,
) -> Result<ContentSync, LdapError> {
    let request = SyncRequest {
        mode: RefreshMode::RefreshOnly,
        cookie,
        reload_hint: false,
    };
    let mut stream = ldap
        .with_controls(request)
        .with_timeout(timeout)
        .streaming_search(base, ldap_scope(scope), filter, attrs)
        .await
        .map_err(|e| LdapError::Search(format!("{base} (content sync): {e}")))?;
    let mut out = ContentSync::default();
    let malformed = || LdapError::Search(format!("{base}: a malformed content-sync message"));
    loop {
        let raw = match stream.next().await {
            Ok(Some(raw)) => raw,
            Ok(None) => break,
            Err(e) => return Err(LdapError::Search(format!("{base} (content sync): {e}"))),
        };
        if raw.is_ref() {
            continue;
        }
        if raw.is_intermediate() {
            // ldap3's parsers panic on malformed input; a server must not take us down.
            let info =
                catch_unwind(AssertUnwindSafe(|| parse_syncinfo(raw))).map_err(|_| malformed())?;
            match info {
                SyncInfo::NewCookie(cookie) => out.cookie = Some(cookie),
                SyncInfo::RefreshDelete { cookie, .. }
                | SyncInfo::RefreshPresent { cookie, .. } => {
                    out.cookie = cookie.or(out.cookie.take());
                }
                SyncInfo::SyncIdSet {
                    cookie,
                    refresh_deletes,
                    sync_uuids,
                } => {
                    out.cookie = cookie.or(out.cookie.take());
                    let ids = sync_uuids.iter().filter_map(|u| uuid_string(u));
                    if refresh_deletes {
                        out.deleted.extend(ids);
                    } else {
                        out.present.extend(ids);
                    }
                }
            }
            continue;
        }
        let state = raw
            .1
            .iter()
            .find(|c| matches!(c.0, Some(ControlType::SyncState)))
            .map(|c| catch_unwind(AssertUnwindSafe(|| c.1.parse::<SyncState>())))
            .transpose()
            .map_err(|_| malformed())?;
        let Some(state) = state else {
            // Not part of the protocol; read it as a change rather than lose it.
            match construct(raw) {
                Some(entry) => out.changed.push(entry),
                None => out.unreadable += 1,
            }
            continue;
        };
        if let Some(cookie) = state.cookie {
            out.cookie = Some(cookie);
        }
        let Some(uuid) = uuid_string(&state.entry_uuid) else {
            return Err(malformed());
        };
        match state.state {
            EntryState::Add | EntryState::Modify => match construct(raw) {
                Some(entry) => out.changed.push(entry),
                None => out.unreadable += 1,
            },
            EntryState::Present => {
                out.present.insert(uuid);
            }
            EntryState::Delete => {
                out.deleted.insert(uuid);
            }
        }
    }
    let result = stream.finish().await;
    if result.rc != 0 {
        return Err(LdapError::Search(format!(
            "{base} (content sync): result {} {}",
            result.rc, result.text
        )));
    }
    let done = result
        .ctrls
        .iter()
        .find(|c| matches!(c.0, Some(ControlType::SyncDone)))
        .map(|c| catch_unwind(AssertUnwindSafe(|| c.1.parse::<SyncDone>())))
        .transpose()
        .map_err(|_| malformed())?
        .ok_or_else(|| {
            LdapError::Search(format!("{base}: the server sent no sync-done control"))
        })?;
    out.refresh_deletes = done.refresh_deletes;
    if done.cookie.is_some() {
        out.cookie = done.cookie;
    }
    Ok(out)
}

/// A 16-byte syncUUID in entryUUID's text form.
fn uuid_string(bytes: &[u8]) -> Option<String> {
    uuid::Uuid::from_slice(bytes)
        .ok()
        .map(|u| u.hyphenated().to_string())
}
