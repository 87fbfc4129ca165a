//! The application's credential: a client secret, or a certificate and its RSA key that
//! sign a JWT client assertion (RFC 7523) for each token request, as the Microsoft
//! identity platform describes ("Microsoft identity platform application authentication
//! certificate credentials"). The key never leaves [`CertificateCredential`]: `Debug`
//! shows the algorithm and the certificate's thumbprint, errors name files, never bytes.

use std::fmt;
use std::path::Path;
use std::sync::Arc;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use ring::rand::SystemRandom;
use ring::signature::RsaKeyPair;
use rustls_pki_types::pem::{self, PemObject, SectionKind};
use serde_json::{json, Value};
use uuid::Uuid;

use crate::secret::Secret;

/// How long a client assertion is valid; Microsoft's libraries use 10 minutes too.
const ASSERTION_LIFETIME_SECS: u64 = 10 * 60;

/// The JWS algorithm of the client assertion.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum JwtAlgorithm {
    /// RSASSA-PSS with SHA-256; the header names the certificate by `x5t#S256` (its SHA-256
    /// thumbprint). Microsoft's recommended choice.
    #[default]
    Ps256,
    /// RSASSA-PKCS1-v1_5 with SHA-256; the header names the certificate by `x5t` (its SHA-1
    /// thumbprint), for setups that predate PS256.
    Rs256,
}

impl JwtAlgorithm {
    /// The JWS `alg` value: `PS256` or `RS256`.
    pub fn as_str(self) -> &'static str {
        match self {
            JwtAlgorithm::Ps256 => "PS256",
            JwtAlgorithm::Rs256 => "RS256",
        }
    }
}

/// Why a certificate credential cannot be loaded or used. Messages name the file (or "the
/// certificate PEM" / "the private key PEM" for in-memory input), never key material.
#[derive(Debug, thiserror::Error)]
pub enum CredentialError {
    /// The file cannot be read.
    #[error("cannot read {file}")]
    Io {
        /// The file.
        file: String,
        /// Why.
        source: std::io::Error,
    },
    /// The PEM text is broken.
    #[error("{file} is not valid PEM: {reason}")]
    Pem {
        /// The file.
        file: String,
        /// What is wrong (never the content).
        reason: &'static str,
    },
    /// No `CERTIFICATE` section.
    #[error("no CERTIFICATE section in {file}")]
    NoCertificate {
        /// The file.
        file: String,
    },
    /// No `PRIVATE KEY` or `RSA PRIVATE KEY` section.
    #[error("no PRIVATE KEY or RSA PRIVATE KEY section in {file}")]
    NoPrivateKey {
        /// The file.
        file: String,
    },
    /// The key is encrypted with a passphrase.
    #[error(
        "the private key in {file} is encrypted; give an unencrypted PKCS#8 or PKCS#1 key \
         (e.g. `openssl pkey -in ENCRYPTED.pem -out KEY.pem`) and restrict the file's permissions"
    )]
    EncryptedKey {
        /// The file.
        file: String,
    },
    /// Not an RSA key ring accepts (EC, too small, malformed).
    #[error("the private key in {file} is not a usable RSA key: {reason}")]
    UnsupportedKey {
        /// The file.
        file: String,
        /// Why (ring's reason, or the key type).
        reason: String,
    },
    /// The key does not match any certificate in the certificate file.
    #[error(
        "the private key in {key_file} does not belong to the certificate in {certificate_file}"
    )]
    KeyMismatch {
        /// The certificate file.
        certificate_file: String,
        /// The key file.
        key_file: String,
    },
    /// ring could not sign.
    #[error("cannot sign the client assertion")]
    Signing,
}

/// An application certificate and its RSA private key, for JWT client assertions.
/// `Debug` shows the algorithm and the certificate's SHA-1 thumbprint, never the key.
#[derive(Clone)]
pub struct CertificateCredential {
    certificate_der: Arc<[u8]>,
    key: Arc<RsaKeyPair>,
    algorithm: JwtAlgorithm,
}

impl fmt::Debug for CertificateCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertificateCredential")
            .field("algorithm", &self.algorithm)
            .field("thumbprint", &self.thumbprint_sha1_hex())
            .field("private_key", &"[redacted]")
            .finish()
    }
}

fn pem_reason(error: &pem::Error) -> &'static str {
    // The PEM error's own Display can quote lines of the file, which may be key material.
    match error {
        pem::Error::MissingSectionEnd { .. } => "a section has no END line",
        pem::Error::IllegalSectionStart { .. } => "a BEGIN line is malformed",
        pem::Error::Base64Decode(_) => "a section is not valid base64",
        pem::Error::NoItemsFound => "no PEM sections",
        pem::Error::SectionTooLarge => "a section is too large",
        _ => "unreadable PEM",
    }
}

fn pem_sections(
    pem_text: &[u8],
    file: &str,
) -> Result<Vec<(SectionKind, Vec<u8>)>, CredentialError> {
    <(SectionKind, Vec<u8>)>::pem_slice_iter(pem_text)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| CredentialError::Pem {
            file: file.to_owned(),
            reason: pem_reason(&e),
        })
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    !needle.is_empty() && haystack.windows(needle.len()).any(|w| w == needle)
}

fn read_file(path: &Path) -> Result<Vec<u8>, CredentialError> {
    std::fs::read(path).map_err(|source| CredentialError::Io {
        file: path.display().to_string(),
        source,
    })
}

impl CertificateCredential {
    /// Loads a credential from files. `certificate_file` is PEM with the certificate (it may
    /// also hold the key, and a chain); `private_key_file` is the PEM key (PKCS#8
    /// `PRIVATE KEY` or PKCS#1 `RSA PRIVATE KEY`); `None` takes the key from
    /// `certificate_file`.
    pub fn from_pem_files(
        certificate_file: &Path,
        private_key_file: Option<&Path>,
        algorithm: JwtAlgorithm,
    ) -> Result<Self, CredentialError> {
        let certificate_pem = read_file(certificate_file)?;
        let certificate_name = certificate_file.display().to_string();
        match private_key_file {
            Some(key_file) => {
                let key_pem = read_file(key_file)?;
                Self::build(
                    &certificate_pem,
                    &certificate_name,
                    &key_pem,
                    &key_file.display().to_string(),
                    algorithm,
                )
            }
            None => Self::build(
                &certificate_pem,
                &certificate_name,
                &certificate_pem,
                &certificate_name,
                algorithm,
            ),
        }
    }

    /// Like [`CertificateCredential::from_pem_files`], from PEM text in memory.
    pub fn from_pem(
        certificate_pem: &[u8],
        private_key_pem: Option<&[u8]>,
        algorithm: JwtAlgorithm,
    ) -> Result<Self, CredentialError> {
        const CERT: &str = "the certificate PEM";
        match private_key_pem {
            Some(key_pem) => Self::build(
                certificate_pem,
                CERT,
                key_pem,
                "the private key PEM",
                algorithm,
            ),
            None => Self::build(certificate_pem, CERT, certificate_pem, CERT, algorithm),
        }
    }

    fn build(
        certificate_pem: &[u8],
        certificate_name: &str,
        key_pem: &[u8],
        key_name: &str,
        algorithm: JwtAlgorithm,
    ) -> Result<Self, CredentialError> {
        let certificates: Vec<Vec<u8>> = pem_sections(certificate_pem, certificate_name)?
            .into_iter()
            .filter(|(kind, _)| *kind == SectionKind::Certificate)
            .map(|(_, der)| der)
            .collect();
        if certificates.is_empty() {
            return Err(CredentialError::NoCertificate {
                file: certificate_name.to_owned(),
            });
        }
        // Encrypted keys are either an unknown section ("ENCRYPTED PRIVATE KEY", which the
        // parser skips) or PKCS#1 with Proc-Type headers (which fail as base64): catch both
        // before parsing, so the message says what to do.
        if contains(key_pem, b"ENCRYPTED PRIVATE KEY")
            || contains(key_pem, b"Proc-Type: 4,ENCRYPTED")
        {
            return Err(CredentialError::EncryptedKey {
                file: key_name.to_owned(),
            });
        }
        let unsupported = |reason: String| CredentialError::UnsupportedKey {
            file: key_name.to_owned(),
            reason,
        };
        let key = pem_sections(key_pem, key_name)?
            .into_iter()
            .find_map(|(kind, der)| match kind {
                SectionKind::PrivateKey => {
                    Some(RsaKeyPair::from_pkcs8(&der).map_err(|e| unsupported(e.to_string())))
                }
                SectionKind::RsaPrivateKey => {
                    Some(RsaKeyPair::from_der(&der).map_err(|e| unsupported(e.to_string())))
                }
                SectionKind::EcPrivateKey => Some(Err(unsupported(
                    "an EC key; Entra ID client assertions need an RSA key".to_owned(),
                ))),
                _ => None,
            })
            .ok_or_else(|| CredentialError::NoPrivateKey {
                file: key_name.to_owned(),
            })??;
        // The SubjectPublicKeyInfo of an RSA certificate wraps exactly the PKCS#1
        // RSAPublicKey ring gives, so a byte search finds the certificate of this key (the
        // first one in a chain, usually the leaf) without an X.509 parser. A mismatch
        // would otherwise surface only as a vague signature error from Entra ID.
        let public_key = key.public().as_ref();
        let certificate = certificates
            .into_iter()
            .find(|der| contains(der, public_key))
            .ok_or_else(|| CredentialError::KeyMismatch {
                certificate_file: certificate_name.to_owned(),
                key_file: key_name.to_owned(),
            })?;
        Ok(CertificateCredential {
            certificate_der: certificate.into(),
            key: Arc::new(key),
            algorithm,
        })
    }

    /// The algorithm of the assertions.
    pub fn algorithm(&self) -> JwtAlgorithm {
        self.algorithm
    }

    /// The certificate (DER).
    pub fn certificate_der(&self) -> &[u8] {
        &self.certificate_der
    }

    /// The certificate's SHA-1 thumbprint in upper-case hex, as the Entra ID portal shows it.
    pub fn thumbprint_sha1_hex(&self) -> String {
        ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            &self.certificate_der,
        )
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
    }

    fn header(&self) -> Value {
        match self.algorithm {
            JwtAlgorithm::Ps256 => {
                let digest = ring::digest::digest(&ring::digest::SHA256, &self.certificate_der);
                json!({"alg": "PS256", "typ": "JWT", "x5t#S256": URL_SAFE_NO_PAD.encode(digest)})
            }
            JwtAlgorithm::Rs256 => {
                let digest = ring::digest::digest(
                    &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
                    &self.certificate_der,
                );
                json!({"alg": "RS256", "typ": "JWT", "x5t": URL_SAFE_NO_PAD.encode(digest)})
            }
        }
    }

    /// The signed client assertion for `token_url` (`aud`), issued by and for `client_id`
    /// (`iss` = `sub` = `client_id`), with a new UUID v4 `jti`, `nbf` = `iat` = `now_unix`
    /// and `exp` = `now_unix` + 10 minutes. `now_unix` is seconds since the Unix epoch.
    pub fn assertion(
        &self,
        client_id: &str,
        token_url: &str,
        now_unix: u64,
    ) -> Result<Secret, CredentialError> {
        let claims = json!({
            "aud": token_url,
            "iss": client_id,
            "sub": client_id,
            "jti": Uuid::new_v4().to_string(),
            "nbf": now_unix,
            "iat": now_unix,
            "exp": now_unix.saturating_add(ASSERTION_LIFETIME_SECS),
        });
        let signing_input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(self.header().to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let padding: &'static dyn ring::signature::RsaEncoding = match self.algorithm {
            JwtAlgorithm::Ps256 => &ring::signature::RSA_PSS_SHA256,
            JwtAlgorithm::Rs256 => &ring::signature::RSA_PKCS1_SHA256,
        };
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                padding,
                &SystemRandom::new(),
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| CredentialError::Signing)?;
        Ok(Secret::new(format!(
            "{signing_input}.{}",
            URL_SAFE_NO_PAD.encode(signature)
        )))
    }
}

/// How the application proves who it is.
#[derive(Clone, Debug)]
pub enum Credential {
    /// A client secret.
    Secret(Secret),
    /// A certificate: each token request carries a fresh signed client assertion.
    Certificate(CertificateCredential),
}

impl Credential {
    /// `client_secret` or `certificate`, for logs.
    pub fn kind(&self) -> &'static str {
        match self {
            Credential::Secret(_) => "client_secret",
            Credential::Certificate(_) => "certificate",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fixture(name: &str) -> Vec<u8> {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures")
            .join(name);
        std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    fn credential(algorithm: JwtAlgorithm) -> CertificateCredential {
        CertificateCredential::from_pem(
            &fixture("test-cert.pem"),
            Some(&fixture("test-key.pem")),
            algorithm,
        )
        .unwrap_or_else(|e| panic!("{e}"))
    }

    fn decode_json(part: &str) -> Value {
        let bytes = URL_SAFE_NO_PAD
            .decode(part)
            .unwrap_or_else(|e| panic!("{e}"));
        serde_json::from_slice(&bytes).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn ps256_assertion_has_the_expected_structure_and_verifies() {
        let cred = credential(JwtAlgorithm::Ps256);
        let url = "https://login.microsoftonline.com/t/oauth2/v2.0/token";
        let jwt = cred
            .assertion("app-1", url, 1_700_000_000)
            .unwrap_or_else(|e| panic!("{e}"));
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        assert_eq!(parts.len(), 3);
        assert!(!jwt.expose().contains('='), "no padding");
        let header = decode_json(parts[0]);
        let sha256 = ring::digest::digest(&ring::digest::SHA256, cred.certificate_der());
        assert_eq!(header["alg"], "PS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["x5t#S256"], URL_SAFE_NO_PAD.encode(sha256));
        assert!(header.get("x5t").is_none());
        let claims = decode_json(parts[1]);
        assert_eq!(claims["aud"], url);
        assert_eq!(claims["iss"], "app-1");
        assert_eq!(claims["sub"], "app-1");
        assert_eq!(claims["nbf"], 1_700_000_000u64);
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_600u64);
        let jti = claims["jti"].as_str().unwrap_or_default();
        assert!(Uuid::parse_str(jti).is_ok(), "{jti}");
        let signature = URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap_or_else(|e| panic!("{e}"));
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PSS_2048_8192_SHA256,
            fixture("test-pubkey-pkcs1.der"),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(signed.as_bytes(), &signature).is_ok());
        // A second assertion has its own jti.
        let again = cred
            .assertion("app-1", url, 1_700_000_000)
            .unwrap_or_else(|e| panic!("{e}"));
        let again_claims = decode_json(again.expose().split('.').nth(1).unwrap_or_default());
        assert_ne!(again_claims["jti"], claims["jti"]);
    }

    #[test]
    fn rs256_assertion_uses_x5t_and_pkcs1_padding() {
        let cred = credential(JwtAlgorithm::Rs256);
        let jwt = cred
            .assertion("app-1", "http://x/t/oauth2/v2.0/token", 1)
            .unwrap_or_else(|e| panic!("{e}"));
        let parts: Vec<&str> = jwt.expose().split('.').collect();
        let header = decode_json(parts[0]);
        let sha1 = ring::digest::digest(
            &ring::digest::SHA1_FOR_LEGACY_USE_ONLY,
            cred.certificate_der(),
        );
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["x5t"], URL_SAFE_NO_PAD.encode(sha1));
        assert!(header.get("x5t#S256").is_none());
        let signature = URL_SAFE_NO_PAD
            .decode(parts[2])
            .unwrap_or_else(|e| panic!("{e}"));
        let public = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            fixture("test-pubkey-pkcs1.der"),
        );
        let signed = format!("{}.{}", parts[0], parts[1]);
        assert!(public.verify(signed.as_bytes(), &signature).is_ok());
        assert_eq!(cred.thumbprint_sha1_hex().len(), 40);
    }

    #[test]
    fn key_formats_and_combined_files_load() {
        for (cert, key) in [
            ("test-cert.pem", Some("test-key.pem")),
            ("test-cert.pem", Some("test-key-pkcs1.pem")),
            ("test-combined.pem", None),
        ] {
            let key = key.map(fixture);
            let loaded = CertificateCredential::from_pem(
                &fixture(cert),
                key.as_deref(),
                JwtAlgorithm::Ps256,
            );
            assert!(loaded.is_ok(), "{cert} {loaded:?}");
        }
    }

    #[test]
    fn load_errors_name_the_problem_without_key_material() {
        let cert = fixture("test-cert.pem");
        let key = fixture("test-key.pem");
        let key_text = String::from_utf8_lossy(&key).into_owned();
        let key_line = key_text.lines().nth(1).unwrap_or_default().to_owned();
        let check = |result: Result<CertificateCredential, CredentialError>, expect: &str| {
            let message = result
                .err()
                .map(|e| format!("{e} {e:?}"))
                .unwrap_or_default();
            assert!(message.contains(expect), "{message}");
            assert!(!message.contains(&key_line), "{message}");
        };
        check(
            CertificateCredential::from_pem(&key, Some(&key), JwtAlgorithm::Ps256),
            "no CERTIFICATE",
        );
        check(
            CertificateCredential::from_pem(&cert, None, JwtAlgorithm::Ps256),
            "no PRIVATE KEY",
        );
        let encrypted =
            b"-----BEGIN ENCRYPTED PRIVATE KEY-----\nAAAA\n-----END ENCRYPTED PRIVATE KEY-----\n";
        check(
            CertificateCredential::from_pem(&cert, Some(encrypted), JwtAlgorithm::Ps256),
            "is encrypted",
        );
        let truncated = &key[..key.len() / 2];
        check(
            CertificateCredential::from_pem(&cert, Some(truncated), JwtAlgorithm::Ps256),
            "not valid PEM",
        );
        let garbage_key = b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n";
        check(
            CertificateCredential::from_pem(&cert, Some(garbage_key), JwtAlgorithm::Ps256),
            "not a usable RSA key",
        );
        let missing = Path::new("/nonexistent/vtcq-cert.pem");
        check(
            CertificateCredential::from_pem_files(missing, None, JwtAlgorithm::Ps256),
            "/nonexistent/vtcq-cert.pem",
        );
    }

    #[test]
    fn a_key_of_another_certificate_is_refused() {
        // Change one byte of the modulus inside the certificate: same structure, other key.
        let cred = credential(JwtAlgorithm::Ps256);
        let public = cred.key.public().as_ref().to_vec();
        let mut der = cred.certificate_der().to_vec();
        let at = der
            .windows(public.len())
            .position(|w| w == public.as_slice())
            .unwrap_or_else(|| panic!("public key not in certificate"));
        der[at + public.len() / 2] ^= 0x55;
        let encoded = base64::engine::general_purpose::STANDARD.encode(&der);
        let pem_text =
            format!("-----BEGIN CERTIFICATE-----\n{encoded}\n-----END CERTIFICATE-----\n");
        let result = CertificateCredential::from_pem(
            pem_text.as_bytes(),
            Some(&fixture("test-key.pem")),
            JwtAlgorithm::Ps256,
        );
        assert!(
            matches!(result, Err(CredentialError::KeyMismatch { .. })),
            "{result:?}"
        );
    }
}
