//! RobotService/Certificate: a TLS certificate for a part, issued by the local fleet's own CA.
//! The CA is made once per data directory (`ca.pem`, and `ca.key` readable by its owner only)
//! so that a client trusts every part of the fleet by trusting one file, as a real fleet's
//! parts are trusted through one authority. Each call issues a fresh key and a certificate
//! for the part's `fqdn` and `local_fqdn`, valid for `LEAF_DAYS`.

use std::path::Path;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose,
};

use super::Api;
use super::authz::Principal;
use super::error::{ApiError, ApiResult, required};
use super::parts::{authorize_part_caller, load_public};
use crate::proto::viam::app::v1::*;

/// The CA's files in the data directory.
pub const CA_CERT_FILE: &str = "ca.pem";
pub const CA_KEY_FILE: &str = "ca.key";
/// The CA's subject; issued certificates name it as their issuer.
const CA_NAME: &str = "fleetsh local fleet CA";
const CA_YEARS: u64 = 10;
/// How long a part's certificate is valid: a part asks again before it runs out.
pub const LEAF_DAYS: u64 = 90;
/// Validity starts this much before now, for parts whose clocks run a little behind.
const CLOCK_SKEW: Duration = Duration::from_secs(3600);
const DAY: Duration = Duration::from_secs(86_400);

/// One creator at a time in this process; `claim_key` settles a race with another process
/// (`fleetsh serve` and a script's embedded fleet on the same data directory).
static CA_LOCK: Mutex<()> = Mutex::new(());

fn internal(what: &str, e: impl std::fmt::Display) -> ApiError {
    ApiError::Internal(format!("{what}: {e}"))
}

fn at(t: SystemTime) -> ApiResult<time::OffsetDateTime> {
    let secs = t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs() as i64;
    time::OffsetDateTime::from_unix_timestamp(secs).map_err(|e| internal("certificate time", e))
}

/// The CA's parameters: the same every time, so an issuer rebuilt from the stored key names
/// the subject of the stored `ca.pem`.
fn ca_params() -> CertificateParams {
    let mut p = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, CA_NAME);
    p.distinguished_name = dn;
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
    p
}

/// The fleet's CA: loaded from the data directory, made there on first use.
fn load_or_create_ca(dir: &Path) -> ApiResult<Issuer<'static, KeyPair>> {
    let _one = CA_LOCK.lock().unwrap_or_else(|p| p.into_inner());
    let (key_path, cert_path) = (dir.join(CA_KEY_FILE), dir.join(CA_CERT_FILE));
    let key = match std::fs::read_to_string(&key_path) {
        Ok(pem) => KeyPair::from_pem(&pem)
            .map_err(|e| internal(&format!("reading {}", key_path.display()), e))?,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => claim_key(dir, &key_path)?,
        Err(e) => return Err(internal(&format!("reading {}", key_path.display()), e)),
    };
    if !cert_path.exists() {
        let mut params = ca_params();
        let now = SystemTime::now();
        params.not_before = at(now - CLOCK_SKEW)?;
        params.not_after = at(now + DAY * 365 * CA_YEARS as u32)?;
        let cert = params
            .self_signed(&key)
            .map_err(|e| internal("making the CA certificate", e))?;
        // Through a rename: a reader never sees half a file. A racing process writes the
        // same key's certificate, which verifies the same parts.
        let tmp = dir.join(format!("{CA_CERT_FILE}.{}.tmp", std::process::id()));
        std::fs::write(&tmp, cert.pem())
            .and_then(|()| std::fs::rename(&tmp, &cert_path))
            .map_err(|e| internal(&format!("writing {}", cert_path.display()), e))?;
    }
    Ok(Issuer::new(ca_params(), key))
}

/// Makes a CA key and links it into place, unless another process got there first: then
/// that one is the fleet's.
fn claim_key(dir: &Path, key_path: &Path) -> ApiResult<KeyPair> {
    let key = KeyPair::generate().map_err(|e| internal("making the CA key", e))?;
    let mine = dir.join(format!("{CA_KEY_FILE}.{}", std::process::id()));
    crate::private_file::write_private(&mine, key.serialize_pem().as_bytes())
        .map_err(|e| internal("saving the CA key", format!("{e:#}")))?;
    let linked = std::fs::hard_link(&mine, key_path);
    let _ = std::fs::remove_file(&mine);
    match linked {
        Ok(()) => Ok(key),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            let pem = std::fs::read_to_string(key_path)
                .map_err(|e| internal(&format!("reading {}", key_path.display()), e))?;
            KeyPair::from_pem(&pem)
                .map_err(|e| internal(&format!("reading {}", key_path.display()), e))
        }
        Err(e) => Err(internal(&format!("saving {}", key_path.display()), e)),
    }
}

/// A certificate for the DNS names of a part, with its own new key (PEMs).
fn issue(issuer: &Issuer<'_, KeyPair>, names: Vec<String>) -> ApiResult<(String, String)> {
    let mut params =
        CertificateParams::new(names.clone()).map_err(|e| internal("certificate names", e))?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, names[0].as_str());
    dn.push(DnType::OrganizationName, "fleetsh local fleet");
    params.distinguished_name = dn;
    let now = SystemTime::now();
    params.not_before = at(now - CLOCK_SKEW)?;
    params.not_after = at(now + DAY * LEAF_DAYS as u32)?;
    params.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    params.use_authority_key_identifier_extension = true;
    let key = KeyPair::generate().map_err(|e| internal("making the part's key", e))?;
    let cert = params
        .signed_by(&key, issuer)
        .map_err(|e| internal("signing the part's certificate", e))?;
    Ok((cert.pem(), key.serialize_pem()))
}

pub fn certificate(
    api: &Api,
    who: &Principal,
    req: CertificateRequest,
) -> ApiResult<CertificateResponse> {
    let id = required("id", &req.id)?;
    let part = api.store.read(|c| {
        authorize_part_caller(c, who, id)?;
        load_public(c, id)
    })?;
    let issuer = load_or_create_ca(&api.data_dir)?;
    let (tls_certificate, tls_private_key) = issue(&issuer, vec![part.fqdn, part.local_fqdn])?;
    Ok(CertificateResponse {
        id: id.into(),
        tls_certificate,
        tls_private_key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_another_process_linked_first_is_the_one_kept() {
        let dir = tempfile::tempdir().unwrap();
        let theirs = KeyPair::generate().unwrap().serialize_pem();
        std::fs::write(dir.path().join(CA_KEY_FILE), &theirs).unwrap();
        let kept = claim_key(dir.path(), &dir.path().join(CA_KEY_FILE)).unwrap();
        assert_eq!(kept.serialize_pem(), theirs);
        let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
        assert_eq!(left.len(), 1, "no temp file left: {left:?}");
    }

    #[test]
    fn the_ca_is_made_once_and_its_key_is_owner_only() {
        let dir = tempfile::tempdir().unwrap();
        load_or_create_ca(dir.path()).unwrap();
        let key = std::fs::read(dir.path().join(CA_KEY_FILE)).unwrap();
        let cert = std::fs::read(dir.path().join(CA_CERT_FILE)).unwrap();
        load_or_create_ca(dir.path()).unwrap();
        assert_eq!(std::fs::read(dir.path().join(CA_KEY_FILE)).unwrap(), key);
        assert_eq!(std::fs::read(dir.path().join(CA_CERT_FILE)).unwrap(), cert);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.path().join(CA_KEY_FILE))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
