//! TLS to the broker: the files of [`TlsConfig`] read into a rustls client configuration on
//! aws-lc-rs (the provider the rest of the node uses), and connection errors worded for the
//! one who has to fix them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::{self, PemObject};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{CertificateError, ClientConfig, RootCertStore};

use crate::TlsConfig;

/// Why the TLS files of a broker connection cannot be used. The message names the file.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A file could not be read.
    #[error("{what} {}: {source}", path.display())]
    Read {
        what: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A file is not what it should be: no PEM block of the expected kind, a broken one, or
    /// contents that TLS refuses.
    #[error("{what} {}: {problem}", path.display())]
    Invalid { what: &'static str, path: PathBuf, problem: String },
    /// A client certificate without its key, or a key without its certificate.
    #[error("{0}")]
    Incomplete(&'static str),
    /// The client certificate and key, each valid, do not go together.
    #[error("client certificate {} and key {}: {problem}", cert.display(), key.display())]
    Mismatch { cert: PathBuf, key: PathBuf, problem: String },
}

const CA: &str = "CA certificate file";
const CERT: &str = "client certificate file";
const KEY: &str = "client key file";

impl TlsConfig {
    /// Checks what can be checked without reading the files.
    pub(crate) fn check(&self) -> Result<(), TlsError> {
        match (&self.cert_file, &self.key_file) {
            (Some(_), None) => Err(TlsError::Incomplete("a client certificate file is given without its key file")),
            (None, Some(_)) => Err(TlsError::Incomplete("a client key file is given without its certificate file")),
            _ => Ok(()),
        }
    }

    /// Reads the PEM files and makes the client side of the connection: the broker's
    /// certificate is verified against the CAs of [`TlsConfig::ca_file`] (and its name against
    /// the URL's host), and [`TlsConfig::cert_file`] is shown when the broker asks for a
    /// client certificate.
    pub fn client_config(&self) -> Result<Arc<ClientConfig>, TlsError> {
        self.check()?;
        let mut roots = RootCertStore::empty();
        for ca in certificates(CA, &self.ca_file)? {
            roots.add(ca).map_err(|e| {
                let why = match e {
                    rustls::Error::InvalidCertificate(c) => format!("{c:?}"),
                    e => e.to_string(),
                };
                invalid(CA, &self.ca_file, format!("a certificate TLS cannot use ({why})"))
            })?;
        }
        // aws-lc-rs named here, not taken from the process: whatever else links rustls with
        // another provider, the broker connection uses this one.
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let builder = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| invalid(CA, &self.ca_file, e.to_string()))?
            .with_root_certificates(roots);
        let config = match (&self.cert_file, &self.key_file) {
            (Some(cert), Some(key)) => {
                let chain = certificates(CERT, cert)?;
                let bytes = read(KEY, key)?;
                let private = PrivateKeyDer::from_pem_slice(&bytes).map_err(|e| {
                    invalid(
                        KEY,
                        key,
                        pem_problem(e, "private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)"),
                    )
                })?;
                builder.with_client_auth_cert(chain, private).map_err(|e| TlsError::Mismatch {
                    cert: cert.clone(),
                    key: key.clone(),
                    problem: match e {
                        rustls::Error::InconsistentKeys(_) => format!("the key is not the certificate's ({e})"),
                        e => e.to_string(),
                    },
                })?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

fn invalid(what: &'static str, path: &Path, problem: String) -> TlsError {
    TlsError::Invalid { what, path: path.to_owned(), problem }
}

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>, TlsError> {
    std::fs::read(path).map_err(|source| TlsError::Read { what, path: path.to_owned(), source })
}

/// The certificates of a PEM file: at least one, each block well formed.
fn certificates(what: &'static str, path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let bytes = read(what, path)?;
    let certificates = CertificateDer::pem_slice_iter(&bytes)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| invalid(what, path, pem_problem(e, "certificate")))?;
    if certificates.is_empty() {
        return Err(invalid(what, path, "holds no PEM certificate (BEGIN CERTIFICATE)".into()));
    }
    Ok(certificates)
}

/// What is wrong with a PEM file, in words.
fn pem_problem(e: pem::Error, expected: &str) -> String {
    match e {
        pem::Error::NoItemsFound => format!("holds no PEM {expected}"),
        pem::Error::MissingSectionEnd { .. } => "a PEM block has no END line".into(),
        pem::Error::IllegalSectionStart { .. } => "a PEM BEGIN line is malformed".into(),
        pem::Error::Base64Decode(e) => format!("a PEM block is not valid base64: {e}"),
        other => format!("not a PEM file: {other}"),
    }
}

/// A lost or refused broker connection in words that say what to fix: for TLS errors, whose
/// certificate was refused and the likely reason; otherwise rumqttc's own message.
pub fn describe_connection_error(e: &rumqttc::ConnectionError) -> String {
    let Some(tls) = rustls_error(e) else { return e.to_string() };
    match tls {
        rustls::Error::InvalidCertificate(c) => {
            let hint = match c {
                CertificateError::UnknownIssuer => " (it is not issued by a CA of the CA certificate file)",
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                    " (it does not name the host of the broker's URL)"
                }
                CertificateError::Expired
                | CertificateError::ExpiredContext { .. }
                | CertificateError::NotValidYet
                | CertificateError::NotValidYetContext { .. } => " (it is outside its validity period)",
                _ => "",
            };
            format!("TLS: the broker's certificate is not trusted: {tls}{hint}")
        }
        rustls::Error::AlertReceived(_) => format!(
            "TLS: the broker refused the connection: {tls} (a broker that requires client certificates \
             refuses a client without one, or with one not issued by a CA it trusts)"
        ),
        _ => format!("TLS: {tls}"),
    }
}

/// The rustls error at the root of `e`, if any: rumqttc wraps it in I/O errors, whose
/// `source` skips the error they carry, so each is opened by hand.
fn rustls_error<'a>(e: &'a (dyn std::error::Error + 'static)) -> Option<&'a rustls::Error> {
    let mut next = Some(e);
    while let Some(e) = next {
        if let Some(tls) = e.downcast_ref::<rustls::Error>() {
            return Some(tls);
        }
        if let Some(tls) =
            e.downcast_ref::<std::io::Error>().and_then(|io| io.get_ref()).and_then(|inner| inner.downcast_ref())
        {
            return Some(tls);
        }
        next = e.source();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn half_a_client_identity_is_refused() {
        let mut tls = TlsConfig { ca_file: "ca.pem".into(), cert_file: Some("c.pem".into()), key_file: None };
        assert!(tls.check().unwrap_err().to_string().contains("without its key file"));
        (tls.cert_file, tls.key_file) = (None, Some("k.pem".into()));
        assert!(tls.check().unwrap_err().to_string().contains("without its certificate file"));
    }
}
