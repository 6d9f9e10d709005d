//! A development certificate authority: one CA and a key pair per endpoint of a cluster, to
//! try TLS out (`crypten certs`) and for tests. Production deployments use certificates from
//! the organisations' own PKI: what matters to crypten-rs is only that every endpoint's
//! certificate chains to the CA named in the cluster file and is issued for its name.

use crate::{Error, Result};
use rcgen::{
    BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, Issuer, KeyPair,
    KeyUsagePurpose,
};
use std::time::Duration;
use time::OffsetDateTime;

fn cert_error(e: rcgen::Error) -> Error {
    Error::Tls(format!("generating a certificate: {e}"))
}

/// A CA's certificate (PEM) and the means to issue endpoint certificates.
pub struct DevCa {
    issuer: Issuer<'static, KeyPair>,
    pem: String,
}

/// An endpoint's certificate and private key, PEM.
#[derive(Clone, Debug)]
pub struct Issued {
    /// The certificate.
    pub cert_pem: String,
    /// The private key (PKCS#8).
    pub key_pem: String,
}

impl DevCa {
    /// A fresh self-signed CA (ECDSA P-256), valid from a day ago for ten years.
    ///
    /// # Errors
    /// `Tls` if key generation fails.
    pub fn generate(common_name: &str) -> Result<Self> {
        let key = KeyPair::generate().map_err(cert_error)?;
        let mut params = CertificateParams::new(Vec::<String>::new()).map_err(cert_error)?;
        params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        params
            .distinguished_name
            .push(DnType::CommonName, common_name);
        params.key_usages = vec![
            KeyUsagePurpose::KeyCertSign,
            KeyUsagePurpose::CrlSign,
            KeyUsagePurpose::DigitalSignature,
        ];
        let now = OffsetDateTime::now_utc();
        params.not_before = now - Duration::from_secs(86_400);
        params.not_after = now + Duration::from_secs(10 * 365 * 86_400);
        let pem = params.self_signed(&key).map_err(cert_error)?.pem();
        Ok(Self {
            issuer: Issuer::new(params, key),
            pem,
        })
    }

    /// The CA certificate, PEM: what the cluster file's `ca` names.
    pub fn cert_pem(&self) -> &str {
        &self.pem
    }

    /// A certificate for endpoint `name` (its DNS subject alternative name), for both client
    /// and server authentication, valid from a day ago for `days` days.
    ///
    /// # Errors
    /// `Tls` for a name that cannot be a DNS name, or if signing fails.
    pub fn issue(&self, name: &str, days: u64) -> Result<Issued> {
        let now = OffsetDateTime::now_utc();
        self.issue_between(
            name,
            now - Duration::from_secs(86_400),
            now + Duration::from_secs(days * 86_400),
        )
    }

    /// A certificate for `name` valid between the two instants (an expired one for tests).
    ///
    /// # Errors
    /// As [`DevCa::issue`].
    pub fn issue_between(
        &self,
        name: &str,
        not_before: OffsetDateTime,
        not_after: OffsetDateTime,
    ) -> Result<Issued> {
        crate::tls::server_name(name)?;
        let key = KeyPair::generate().map_err(cert_error)?;
        let mut params = CertificateParams::new(vec![name.to_string()]).map_err(cert_error)?;
        params.distinguished_name.push(DnType::CommonName, name);
        params.extended_key_usages = vec![
            ExtendedKeyUsagePurpose::ServerAuth,
            ExtendedKeyUsagePurpose::ClientAuth,
        ];
        params.not_before = not_before;
        params.not_after = not_after;
        let cert = params.signed_by(&key, &self.issuer).map_err(cert_error)?;
        Ok(Issued {
            cert_pem: cert.pem(),
            key_pem: key.serialize_pem(),
        })
    }
}
