//! Certificates by SNI: the TLS resolver reads the live site table, so a
//! reload's certificates are what the next handshake gets.

use crate::sites::table::SiteTable;
use anyhow::Context;
use arc_swap::ArcSwap;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use std::path::Path;
use std::sync::Arc;

/// Picks each handshake's certificate by the name the client asked for
/// (SNI): its site's, the fallback for a site that names none, the
/// default site's for a name no site has or no name at all.
pub struct SniCertificates {
    table: Arc<ArcSwap<SiteTable>>,
}

impl SniCertificates {
    pub(crate) fn new(table: Arc<ArcSwap<SiteTable>>) -> SniCertificates {
        SniCertificates { table }
    }
}

impl std::fmt::Debug for SniCertificates {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SniCertificates").finish_non_exhaustive()
    }
}

impl ResolvesServerCert for SniCertificates {
    fn resolve(&self, hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let chosen = self.table.load().certificate_for(hello.server_name());
        if chosen.is_none() {
            tracing::debug!(
                server_name = ?hello.server_name(),
                "no site for this TLS server name and no default site: handshake refused"
            );
        }
        chosen
    }
}

/// A certificate chain and its private key from PEM files, checked to
/// belong together and, where `names` are given, to cover each of them
/// (a `*.` name is checked with one label in its place).
pub fn load_certificate(
    cert: &Path,
    key: &Path,
    names: &[crate::sites::HostPattern],
) -> anyhow::Result<Arc<CertifiedKey>> {
    let (chain, private) = crate::tls::load_pem(cert, key)?;
    let provider = rustls::crypto::ring::default_provider();
    let certified = CertifiedKey::from_der(chain, private, &provider).with_context(|| {
        format!(
            "the key in {} does not belong to the certificate in {}, or is unsupported",
            key.display(),
            cert.display()
        )
    })?;
    let end_entity = certified
        .end_entity_cert()
        .context("the certificate chain is empty")?;
    let parsed = rustls::server::ParsedCertificate::try_from(end_entity)
        .with_context(|| format!("cannot parse the certificate in {}", cert.display()))?;
    for name in names {
        let probe = match name {
            crate::sites::HostPattern::Exact(n) => {
                n.trim_start_matches('[').trim_end_matches(']').to_string()
            }
            crate::sites::HostPattern::Wildcard(suffix) => {
                format!("h2wasm-wildcard-probe.{suffix}")
            }
        };
        let covered = rustls::pki_types::ServerName::try_from(probe.as_str())
            .ok()
            .is_some_and(|server_name| {
                rustls::client::verify_server_name(&parsed, &server_name).is_ok()
            });
        if !covered {
            anyhow::bail!(
                "the certificate in {} does not cover {name} (its subject alternative names \
                 must include it)",
                cert.display()
            );
        }
    }
    Ok(Arc::new(certified))
}
