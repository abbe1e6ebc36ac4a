//! TLS with rustls (ring provider): server and client configs with ALPN
//! `h2`, PEM loading, and a reusable self-signed development certificate.

use anyhow::{Context, bail};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The ALPN protocol id of HTTP/2 over TLS.
pub const ALPN_H2: &[u8] = b"h2";
/// The ALPN protocol id of HTTP/1.1.
pub const ALPN_HTTP1: &[u8] = b"http/1.1";

/// ALPN protocols in order of preference: `h2`, then `http/1.1` when
/// HTTP/1.1 is served (or accepted, by a client).
fn alpn(http1: bool) -> Vec<Vec<u8>> {
    let mut list = vec![ALPN_H2.to_vec()];
    if http1 {
        list.push(ALPN_HTTP1.to_vec());
    }
    list
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Reads a PEM certificate chain and private key.
pub fn load_pem(
    cert: &Path,
    key: &Path,
) -> anyhow::Result<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)> {
    let certs: Vec<_> = CertificateDer::pem_file_iter(cert)
        .with_context(|| format!("cannot read certificate {}", cert.display()))?
        .collect::<Result<_, _>>()
        .with_context(|| format!("invalid PEM in {}", cert.display()))?;
    if certs.is_empty() {
        bail!("no certificate found in {}", cert.display());
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .with_context(|| format!("no usable private key in {}", key.display()))?;
    Ok((certs, key))
}

/// Where generated development certificates live:
/// `$H2WASM_DATA_DIR`, else `$XDG_DATA_HOME/h2wasm`, else `~/.local/share/h2wasm`.
pub fn data_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("H2WASM_DATA_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_DATA_HOME") {
        return PathBuf::from(d).join("h2wasm");
    }
    let home = std::env::var_os("HOME").map_or_else(|| PathBuf::from("."), PathBuf::from);
    home.join(".local/share/h2wasm")
}

/// Returns the paths of the development certificate and key for
/// localhost, 127.0.0.1 and ::1, generating them on first use.
pub fn dev_certificate() -> anyhow::Result<(PathBuf, PathBuf)> {
    let dir = data_dir();
    let cert = dir.join("dev-cert.pem");
    let key = dir.join("dev-key.pem");
    if cert.exists() && key.exists() {
        return Ok((cert, key));
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
    let generated = rcgen::generate_simple_self_signed(names)
        .context("generating the development certificate")?;
    std::fs::write(&cert, generated.cert.pem())
        .with_context(|| format!("cannot write {}", cert.display()))?;
    write_private(&key, generated.signing_key.serialize_pem().as_bytes())?;
    Ok((cert, key))
}

fn write_private(path: &Path, data: &[u8]) -> anyhow::Result<()> {
    use std::io::Write;
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let mut f = opts
        .open(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    f.write_all(data)?;
    Ok(())
}

/// A server config offering `h2` by ALPN, and `http/1.1` with `http1`.
pub fn server_config(
    cert: &Path,
    key: &Path,
    http1: bool,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let (certs, key) = load_pem(cert, key)?;
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .context("certificate and key do not match or are unsupported")?;
    config.alpn_protocols = alpn(http1);
    Ok(Arc::new(config))
}

/// A server config whose certificate is picked per handshake by
/// `resolver` (e.g. [`crate::sites::SniCertificates`]), offering `h2` by
/// ALPN, and `http/1.1` with `http1`.
pub fn sni_server_config(
    resolver: Arc<dyn rustls::server::ResolvesServerCert>,
    http1: bool,
) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    let mut config = rustls::ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = alpn(http1);
    Ok(Arc::new(config))
}

/// How the client checks the server's certificate.
#[derive(Clone, Debug, Default)]
pub enum Trust {
    /// The platform's root certificates.
    #[default]
    Platform,
    /// Only the CA certificates in this PEM file.
    CaFile(PathBuf),
    /// No verification at all (development only).
    Insecure,
}

/// A client config asking for `h2` by ALPN, and accepting `http/1.1` with
/// `http1`.
pub fn client_config(trust: &Trust, http1: bool) -> anyhow::Result<Arc<rustls::ClientConfig>> {
    let builder = rustls::ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .context("TLS protocol versions")?;
    let mut config = match trust {
        Trust::Insecure => builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(NoVerification(provider())))
            .with_no_client_auth(),
        Trust::CaFile(path) => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in CertificateDer::pem_file_iter(path)
                .with_context(|| format!("cannot read CA file {}", path.display()))?
            {
                let cert = cert.with_context(|| format!("invalid PEM in {}", path.display()))?;
                roots
                    .add(cert)
                    .with_context(|| format!("unusable CA certificate in {}", path.display()))?;
            }
            if roots.is_empty() {
                bail!("no CA certificate found in {}", path.display());
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
        Trust::Platform => {
            let mut roots = rustls::RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
            builder.with_root_certificates(roots).with_no_client_auth()
        }
    };
    config.alpn_protocols = alpn(http1);
    Ok(Arc::new(config))
}

/// `host` (a name, or an address with or without brackets) as TLS names
/// the server.
pub fn server_name(host: &str) -> anyhow::Result<ServerName<'static>> {
    let host = host.trim_start_matches('[').trim_end_matches(']');
    ServerName::try_from(host.to_string()).with_context(|| format!("invalid server name {host:?}"))
}

/// `--insecure`: accepts any certificate, still checks signatures so the
/// handshake itself is sound.
#[derive(Debug)]
struct NoVerification(Arc<rustls::crypto::CryptoProvider>);

impl rustls::client::danger::ServerCertVerifier for NoVerification {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<rustls::client::danger::ServerCertVerified, rustls::Error> {
        Ok(rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &rustls::DigitallySignedStruct,
    ) -> Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}
