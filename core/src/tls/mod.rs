//! TLS: rustls server configuration from PEM files, or from a self-signed certificate made at
//! first start. The current configuration can be swapped at run time (SIGHUP) without touching
//! connections already open.

pub mod tlsa;

use crate::error::{Error, Result};
use rustls::ServerConfig;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};
use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};

pub struct TlsStore {
    current: RwLock<Arc<ServerConfig>>,
}

impl TlsStore {
    pub fn new(config: Arc<ServerConfig>) -> TlsStore {
        TlsStore {
            current: RwLock::new(config),
        }
    }

    pub fn get(&self) -> Arc<ServerConfig> {
        self.current
            .read()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub fn replace(&self, config: Arc<ServerConfig>) {
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = config;
    }
}

/// The certificate and key files in use: configured, or self-signed ones in DATA/tls/ (made
/// now when missing).
pub fn cert_paths(cfg: &crate::config::Config) -> Result<(PathBuf, PathBuf)> {
    if !cfg.tls.cert.is_empty() {
        return Ok((PathBuf::from(&cfg.tls.cert), PathBuf::from(&cfg.tls.key)));
    }
    let dir = cfg.data_dir.join("tls");
    let (cert, key) = (dir.join("cert.pem"), dir.join("key.pem"));
    if !cert.exists() || !key.exists() {
        make_self_signed(&dir, &cfg.hostname)?;
        tracing::info!(cert = %cert.display(), hostname = %cfg.hostname, "made a self-signed certificate");
    }
    Ok((cert, key))
}

fn make_self_signed(dir: &Path, hostname: &str) -> Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    crate::store::private_dir(dir)?;
    let mut names = vec![hostname.to_string()];
    if hostname != "localhost" {
        names.push("localhost".into());
    }
    let ck = rcgen::generate_simple_self_signed(names)
        .map_err(|e| Error::Storage(format!("cannot make a self-signed certificate: {e}")))?;
    let write = |path: PathBuf, text: String, mode: u32| -> Result<()> {
        use std::io::Write;
        let tmp = path.with_extension("tmp");
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(mode)
            .open(&tmp)?;
        f.write_all(text.as_bytes())?;
        f.sync_all()?;
        std::fs::rename(&tmp, &path)?;
        Ok(())
    };
    write(dir.join("key.pem"), ck.signing_key.serialize_pem(), 0o600)?;
    write(dir.join("cert.pem"), ck.cert.pem(), 0o644)?;
    Ok(())
}

/// Reads a PEM chain and key and builds a TLS 1.2+ server configuration.
pub fn load(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .map_err(|e| Error::Invalid(format!("tls.cert {}: {e}", cert.display())))?
        .collect::<std::result::Result<_, _>>()
        .map_err(|e| Error::Invalid(format!("tls.cert {}: {e}", cert.display())))?;
    if chain.is_empty() {
        return Err(Error::Invalid(format!(
            "tls.cert {}: no certificate in the file",
            cert.display()
        )));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| Error::Invalid(format!("tls.key {}: {e}", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
        .map_err(|e| Error::Invalid(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| {
            Error::Invalid(format!("TLS: certificate and key do not fit together: {e}"))
        })?;
    Ok(Arc::new(config))
}
