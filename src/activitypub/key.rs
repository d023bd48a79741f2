//! The actors' key: one RSA 2048 key pair, made on the first start and kept in the state
//! directory (`activitypub-key.pem`, PKCS#8 PEM, readable by its owner only), loaded on every
//! later start so that remote servers keep trusting it.
//!
//! One key serves every actor (the site, each category, each tag): each actor's document
//! publishes it under its own `{actor}#main-key` id, and a signature names the key id of the
//! actor it speaks for. A remote server checks that a key's `owner` is the actor, which holds.

use std::fmt;
use std::path::{Path, PathBuf};

use rsa::pkcs1::DecodeRsaPublicKey;
use rsa::pkcs8::{
    DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding,
};
use rsa::traits::PublicKeyParts;
use rsa::{PrivateKey, PublicKey};
use sha2::Sha256;

use crate::output::Atomic;

/// The key file's name inside the state directory.
pub const KEY_FILE: &str = "activitypub-key.pem";

/// Bits of a key made here: what Mastodon and every other server accept and expect.
pub const KEY_BITS: usize = 2048;

/// The smallest key accepted from the file (or from a remote server, by [`verify_sha256`]).
const MIN_BITS: usize = 2048;

/// Why the key could not be had, or a signature not made or not verified.
#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("cannot read the ActivityPub key {}: {source}", path.display())]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("the ActivityPub key {} is not a usable RSA private key ({source}); move it away to make a new one (remote servers will then need to fetch the new key)", path.display())]
    Corrupt { path: PathBuf, source: Unusable },
    #[error("cannot write the ActivityPub key {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make an RSA key: {0}")]
    Generate(rsa::Error),
    #[error("cannot sign: {0}")]
    Sign(rsa::Error),
    #[error("not an RSA public key in PEM (SPKI or PKCS#1): {0}")]
    PublicKey(String),
    #[error("the RSA public key has {0} bits; at least {MIN_BITS} are needed")]
    WeakKey(usize),
    #[error("the signature does not verify")]
    BadSignature,
}

/// Why a key file's contents are not a key this server can use.
#[derive(Debug, thiserror::Error)]
pub enum Unusable {
    #[error("{0}")]
    Pkcs8(#[from] rsa::pkcs8::Error),
    #[error("{0} bits, at least {MIN_BITS} needed")]
    Small(usize),
}

/// The actors' key pair.
pub struct ActorKey {
    private: PrivateKey,
    /// The public key as SPKI PEM (`-----BEGIN PUBLIC KEY-----`), as `publicKeyPem` carries it.
    public_pem: String,
}

impl fmt::Debug for ActorKey {
    // Never the private key, not even in a log line.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ActorKey")
            .field("public_pem", &self.public_pem)
            .finish_non_exhaustive()
    }
}

impl ActorKey {
    /// Loads the key from `{dir}/activitypub-key.pem`, or, when there is no such file, makes
    /// one and writes it there (the directory created if need be; the file atomically, mode
    /// 0600 from its creation, fsynced). A file that cannot be read or is not an RSA private
    /// key of at least 2048 bits is an error naming it — never silently replaced, since a new
    /// key breaks the remote servers' cached copy.
    pub fn load_or_create(dir: &Path) -> Result<ActorKey, KeyError> {
        let path = dir.join(KEY_FILE);
        match std::fs::read_to_string(&path) {
            Ok(pem) => ActorKey::from_pem(&pem).map_err(|source| KeyError::Corrupt {
                path: path.clone(),
                source,
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = ActorKey::generate()?;
                let pem = key
                    .private
                    .to_pkcs8_pem(LineEnding::LF)
                    .map_err(|e| KeyError::Generate(rsa::Error::from(e)))?;
                Atomic::SECRET
                    .write(&path, pem.as_bytes())
                    .map_err(|source| KeyError::Write {
                        path: path.clone(),
                        source,
                    })?;
                tracing::info!("made a new ActivityPub key: {}", path.display());
                Ok(key)
            }
            Err(source) => Err(KeyError::Read { path, source }),
        }
    }

    /// A new key from the operating system's generator.
    fn generate() -> Result<ActorKey, KeyError> {
        let private =
            PrivateKey::new(&mut getrandom::SysRng, KEY_BITS).map_err(KeyError::Generate)?;
        ActorKey::from_private(private).map_err(|e| KeyError::Generate(rsa::Error::Pkcs8(e)))
    }

    /// The key in a PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`); the reason it is not one.
    fn from_pem(pem: &str) -> Result<ActorKey, Unusable> {
        let private = PrivateKey::from_pkcs8_pem(pem)?;
        let bits = private.size() * 8;
        if bits < MIN_BITS {
            return Err(Unusable::Small(bits));
        }
        Ok(ActorKey::from_private(private)?)
    }

    fn from_private(private: PrivateKey) -> Result<ActorKey, rsa::pkcs8::Error> {
        let public_pem = private
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .map_err(rsa::pkcs8::Error::PublicKey)?;
        Ok(ActorKey {
            private,
            public_pem,
        })
    }

    /// The public key as SPKI PEM: an actor's `publicKey.publicKeyPem`.
    pub fn public_pem(&self) -> &str {
        &self.public_pem
    }

    /// RSASSA-PKCS1-v1_5 with SHA-256 over `data`: HTTP Signatures' `rsa-sha256` (the
    /// signature's bytes, to be base64-encoded). Fails only if the OS generator (used for
    /// blinding) does.
    pub fn sign_sha256(&self, data: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.private
            .pkcs1v15_sign::<Sha256>(data)
            .map_err(KeyError::Sign)
    }
}

/// Checks an RSASSA-PKCS1-v1_5 SHA-256 signature of `data` with a public key in PEM, SPKI
/// (`BEGIN PUBLIC KEY`, what actors publish) or PKCS#1 (`BEGIN RSA PUBLIC KEY`, which a few
/// servers publish). Keys under 2048 bits are refused.
pub fn verify_sha256(public_pem: &str, data: &[u8], signature: &[u8]) -> Result<(), KeyError> {
    let pem = public_pem.trim();
    let key = PublicKey::from_public_key_pem(pem)
        .map_err(|e| e.to_string())
        .or_else(|spki| {
            PublicKey::from_pkcs1_pem(pem).map_err(|pkcs1| format!("{spki}; as PKCS#1: {pkcs1}"))
        })
        .map_err(KeyError::PublicKey)?;
    let bits = key.size() * 8;
    if bits < MIN_BITS {
        return Err(KeyError::WeakKey(bits));
    }
    key.pkcs1v15_verify::<Sha256>(data, signature)
        .map_err(|_| KeyError::BadSignature)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_once_then_loaded_the_same() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("state");
        let made = ActorKey::load_or_create(&state).unwrap();
        assert!(made
            .public_pem()
            .starts_with("-----BEGIN PUBLIC KEY-----\n"));
        let loaded = ActorKey::load_or_create(&state).unwrap();
        assert_eq!(made.public_pem(), loaded.public_pem());
        // The loaded key signs what the published key verifies, and nothing else.
        let sig = loaded
            .sign_sha256(b"(request-target): post /inbox")
            .unwrap();
        assert_eq!(sig.len(), KEY_BITS / 8);
        verify_sha256(made.public_pem(), b"(request-target): post /inbox", &sig).unwrap();
        assert!(matches!(
            verify_sha256(made.public_pem(), b"(request-target): post /inbox2", &sig),
            Err(KeyError::BadSignature)
        ));
        let text = std::fs::read_to_string(state.join(KEY_FILE)).unwrap();
        assert!(text.starts_with("-----BEGIN PRIVATE KEY-----\n"), "PKCS#8");
        assert!(!format!("{made:?}").contains("PRIVATE"));
    }

    #[cfg(unix)]
    #[test]
    fn the_file_is_readable_by_its_owner_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        ActorKey::load_or_create(dir.path()).unwrap();
        let mode = std::fs::metadata(dir.path().join(KEY_FILE))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        // Nothing else left beside it (the atomic write's temporary file).
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_corrupt_file_is_an_error_naming_it_and_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(KEY_FILE);
        for bad in [
            "not a key".to_owned(),
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_owned(),
        ] {
            std::fs::write(&path, &bad).unwrap();
            let err = ActorKey::load_or_create(dir.path()).unwrap_err();
            assert!(matches!(err, KeyError::Corrupt { .. }), "{err}");
            assert!(
                err.to_string().contains(&path.display().to_string()),
                "{err}"
            );
            assert_eq!(std::fs::read_to_string(&path).unwrap(), bad);
        }
    }

    #[cfg(unix)]
    #[test]
    fn an_unreadable_file_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        // A directory where the file should be: reading it fails, and not as "not found".
        std::fs::create_dir(dir.path().join(KEY_FILE)).unwrap();
        let err = ActorKey::load_or_create(dir.path()).unwrap_err();
        assert!(matches!(err, KeyError::Read { .. }), "{err}");
        assert!(err.to_string().contains(KEY_FILE), "{err}");
    }

    #[test]
    fn public_keys_in_either_pem_and_weak_ones() {
        use rsa::pkcs1::EncodeRsaPublicKey;
        let dir = tempfile::tempdir().unwrap();
        let key = ActorKey::load_or_create(dir.path()).unwrap();
        let sig = key.sign_sha256(b"x").unwrap();
        let pkcs1 = key
            .private
            .to_public_key()
            .to_pkcs1_pem(LineEnding::LF)
            .unwrap();
        assert!(pkcs1.starts_with("-----BEGIN RSA PUBLIC KEY-----"));
        verify_sha256(&pkcs1, b"x", &sig).unwrap();
        assert!(matches!(
            verify_sha256("garbage", b"x", &sig),
            Err(KeyError::PublicKey(_))
        ));
        let small = PrivateKey::new(&mut getrandom::SysRng, 1024).unwrap();
        let small_pem = small
            .to_public_key()
            .to_public_key_pem(LineEnding::LF)
            .unwrap();
        assert!(matches!(
            verify_sha256(&small_pem, b"x", &sig),
            Err(KeyError::WeakKey(1024))
        ));
    }
}
