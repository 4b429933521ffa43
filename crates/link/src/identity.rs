//! The agency's identity on the wire: its signing key and its node's TLS certificate, kept in
//! a folder of the node's data (`<data_dir>/federation`), readable by the node only.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use limes_federation::{AgencyKey, AnchorFields, Fingerprint, TrustAnchor};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

use crate::LinkError;

const AGENCY_KEY: &str = "agency.key";
const TLS_KEY: &str = "tls.key";
const TLS_CERT: &str = "tls.crt";

/// The agency's signing key and the node's TLS certificate and key.
pub struct Identity {
    pub key: AgencyKey,
    pub cert_pem: String,
    pub cert_der: CertificateDer<'static>,
    key_der: Vec<u8>,
}

impl std::fmt::Debug for Identity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Identity").field("key", &self.key).field("certificate", &self.fingerprint()).finish()
    }
}

impl Identity {
    /// Reads the identity in `dir`, or creates it when the folder holds none. A folder that
    /// holds part of one is an error: a new key would silently break every partnership.
    /// `hosts` are the names and addresses the certificate is made out to (partners pin
    /// the certificate itself, so they are informative).
    pub fn load_or_create(dir: &Path, agency: &str, hosts: &[String]) -> Result<(Self, bool), LinkError> {
        let paths = [AGENCY_KEY, TLS_KEY, TLS_CERT].map(|f| dir.join(f));
        let present = paths.iter().filter(|p| p.exists()).count();
        match present {
            3 => Ok((Self::load(dir)?, false)),
            0 => Ok((Self::create(dir, agency, hosts)?, true)),
            _ => Err(LinkError::Identity(format!(
                "{} holds only part of the agency's identity ({} of {AGENCY_KEY}, {TLS_KEY}, {TLS_CERT}); \
                 restore the missing files from a backup rather than make a new key partners do not know",
                dir.display(),
                present
            ))),
        }
    }

    pub fn load(dir: &Path) -> Result<Self, LinkError> {
        let read = |name: &str| -> Result<String, LinkError> {
            let path = dir.join(name);
            fs::read_to_string(&path).map_err(|e| LinkError::File { path, error: e.to_string() })
        };
        let key = AgencyKey::parse_private_text(&read(AGENCY_KEY)?)
            .map_err(|e| LinkError::Identity(format!("{}: {e}", dir.join(AGENCY_KEY).display())))?;
        let cert_pem = read(TLS_CERT)?;
        let cert_der = CertificateDer::from_pem_slice(cert_pem.as_bytes())
            .map_err(|e| LinkError::Identity(format!("{}: {e}", dir.join(TLS_CERT).display())))?;
        let key_der = PrivateKeyDer::from_pem_slice(read(TLS_KEY)?.as_bytes())
            .map_err(|e| LinkError::Identity(format!("{}: {e}", dir.join(TLS_KEY).display())))?
            .secret_der()
            .to_vec();
        Ok(Self { key, cert_pem, cert_der, key_der })
    }

    fn create(dir: &Path, agency: &str, hosts: &[String]) -> Result<Self, LinkError> {
        fs::create_dir_all(dir).map_err(|e| LinkError::File { path: dir.to_owned(), error: e.to_string() })?;
        let key = AgencyKey::generate().map_err(|e| LinkError::Identity(e.to_string()))?;
        let mut names: Vec<String> = vec![format!("{}.limes.invalid", agency.replace([':', '_'], "-"))];
        names.extend(hosts.iter().cloned());
        let mut params = rcgen::CertificateParams::new(names).map_err(|e| LinkError::Identity(e.to_string()))?;
        params.distinguished_name.push(rcgen::DnType::CommonName, format!("limes node of {agency}"));
        params.distinguished_name.push(rcgen::DnType::OrganizationName, agency);
        let now = time_now();
        params.not_before = now;
        params.not_after = now + std::time::Duration::from_secs(10 * 366 * 24 * 3600);
        let tls_key = rcgen::KeyPair::generate().map_err(|e| LinkError::Identity(e.to_string()))?;
        let cert = params.self_signed(&tls_key).map_err(|e| LinkError::Identity(e.to_string()))?;
        write_secret(dir, AGENCY_KEY, key.to_private_text().as_bytes())?;
        write_secret(dir, TLS_KEY, tls_key.serialize_pem().as_bytes())?;
        write_secret(dir, TLS_CERT, cert.pem().as_bytes())?;
        tracing::info!(dir = %dir.display(), key = %key.public(), "created the agency's signing key and TLS certificate");
        Self::load(dir)
    }

    pub fn fingerprint(&self) -> Fingerprint {
        Fingerprint::of_der(&self.cert_der)
    }

    pub(crate) fn private_key(&self) -> PrivateKeyDer<'static> {
        PrivateKeyDer::try_from(self.key_der.clone()).expect("checked when loaded")
    }

    /// The trust anchor partners add: signed now.
    pub fn anchor(&self, fields: AnchorFields) -> Result<TrustAnchor, LinkError> {
        let fields = AnchorFields { certificate_pem: self.cert_pem.clone(), ..fields };
        TrustAnchor::sign(fields, &self.key, chrono::Utc::now()).map_err(|e| LinkError::Identity(e.to_string()))
    }
}

fn time_now() -> time::OffsetDateTime {
    // A minute back, so that a partner whose clock is a little behind accepts it at once.
    time::OffsetDateTime::now_utc() - std::time::Duration::from_secs(60)
}

/// Writes a file readable by the owner only, durably (temporary file, fsync, rename).
pub(crate) fn write_secret(dir: &Path, name: &str, bytes: &[u8]) -> Result<PathBuf, LinkError> {
    let path = dir.join(name);
    let tmp = dir.join(format!("{name}.tmp"));
    let err = |path: &Path| {
        let path = path.to_owned();
        move |e: std::io::Error| LinkError::File { path, error: e.to_string() }
    };
    let mut options = fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp).map_err(err(&tmp))?;
    f.write_all(bytes).and_then(|()| f.sync_all()).map_err(err(&tmp))?;
    fs::rename(&tmp, &path).map_err(err(&path))?;
    fs::File::open(dir).and_then(|d| d.sync_all()).map_err(err(dir))?;
    Ok(path)
}
