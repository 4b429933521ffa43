//! Mutual TLS with pinned certificates.
//!
//! Agencies share no certificate authority and no domain: each node presents its own
//! self-signed certificate, and each side accepts exactly the certificates of its current
//! partners, by SHA-256 of the certificate (the fingerprint in the trust anchor). rustls's
//! WebPKI verifiers build chains to a CA and check names, neither of which exists here, so the
//! two verifiers below compare fingerprints and leave the handshake signatures to rustls's own
//! functions.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};

use limes_federation::Fingerprint;
use limes_model::AgencyId;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::{CryptoProvider, verify_tls12_signature, verify_tls13_signature};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{CertificateError, DigitallySignedStruct, DistinguishedName, Error, SignatureScheme};

use crate::LinkError;
use crate::identity::Identity;

/// The certificates the node accepts from partners, by fingerprint; changed live when partners
/// are added, removed or revoked.
#[derive(Debug, Clone, Default)]
pub struct Pins(Arc<RwLock<HashMap<Fingerprint, AgencyId>>>);

impl Pins {
    pub fn set(&self, pins: HashMap<Fingerprint, AgencyId>) {
        *self.0.write().unwrap_or_else(|e| e.into_inner()) = pins;
    }

    pub fn agency(&self, fp: &Fingerprint) -> Option<AgencyId> {
        self.0.read().unwrap_or_else(|e| e.into_inner()).get(fp).cloned()
    }
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

#[derive(Debug)]
struct PinnedClients {
    pins: Pins,
    provider: Arc<CryptoProvider>,
}

/// The certificate is not a partner's: the message names its fingerprint, so that the
/// operator can compare it with the anchor the other agency sent.
fn not_pinned(fp: Fingerprint) -> Error {
    Error::InvalidCertificate(CertificateError::Other(rustls::OtherError(Arc::new(NotPinned(fp)))))
}

#[derive(Debug)]
struct NotPinned(Fingerprint);

impl std::fmt::Display for NotPinned {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "certificate {} is not a current partner's", self.0)
    }
}

impl std::error::Error for NotPinned {}

impl ClientCertVerifier for PinnedClients {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, Error> {
        let fp = Fingerprint::of_der(end_entity);
        match self.pins.agency(&fp) {
            Some(_) => Ok(ClientCertVerified::assertion()),
            None => Err(not_pinned(fp)),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

#[derive(Debug)]
struct PinnedServer {
    pin: Fingerprint,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for PinnedServer {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, Error> {
        let fp = Fingerprint::of_der(end_entity);
        if fp == self.pin { Ok(ServerCertVerified::assertion()) } else { Err(not_pinned(fp)) }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, Error> {
        verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// The partners' port: TLS 1.3 only, a client certificate required and pinned.
pub fn server_config(identity: &Identity, pins: Pins) -> Result<rustls::ServerConfig, LinkError> {
    let provider = provider();
    let verifier = Arc::new(PinnedClients { pins, provider: provider.clone() });
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| LinkError::Tls(e.to_string()))?
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![identity.cert_der.clone()], identity.private_key())
        .map_err(|e| LinkError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

/// A client to one partner: presents our certificate, accepts only the partner's.
pub fn client_config(identity: &Identity, partner: Fingerprint) -> Result<rustls::ClientConfig, LinkError> {
    let provider = provider();
    let verifier = Arc::new(PinnedServer { pin: partner, provider: provider.clone() });
    let mut config = rustls::ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .map_err(|e| LinkError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(vec![identity.cert_der.clone()], identity.private_key())
        .map_err(|e| LinkError::Tls(e.to_string()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}
