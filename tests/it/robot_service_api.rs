//! RobotService/Certificate: the local fleet's CA issues a part a certificate a TLS client
//! that trusts the fleet's `ca.pem` accepts for the part's names, with a matching key.

use std::sync::Arc;
use std::time::Duration;

use fleetsh::proto::viam::app::v1::robot_service_client::RobotServiceClient;
use fleetsh::proto::viam::app::v1::*;
use fleetsh::server::store::{hash_secret, new_id, new_secret, now};
use rustls::client::WebPkiServerVerifier;
use rustls::client::danger::ServerCertVerifier;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use tonic::Code;

use crate::harness::{Bearer, TestServer, assert_status};
use crate::logs::as_part;
use crate::parts::machine;
use crate::setup::second_org;

/// A RobotService client holding a new owner key of `org`.
async fn robot_as_owner_of(
    s: &TestServer,
    org: &str,
) -> RobotServiceClient<
    tonic::service::interceptor::InterceptedService<tonic::transport::Channel, Bearer>,
> {
    let (id, key) = (new_id(), new_secret(32));
    s.fleet
        .api
        .store
        .tx(|tx| {
            tx.execute(
                "INSERT INTO api_keys(id, org_id, name, key_hash, created_on) VALUES (?1, ?2, 'k', ?3, ?4)",
                rusqlite::params![id, org, hash_secret(&key), now()],
            )?;
            tx.execute(
                "INSERT INTO authorizations(org_id, identity_id, identity_type, role, resource_type, resource_id)
                 VALUES (?1, ?2, 'api-key', 'owner', 'organization', ?1)",
                rusqlite::params![org, id],
            )?;
            Ok(())
        })
        .unwrap();
    let token = s.token(&id, &key).await.unwrap();
    RobotServiceClient::with_interceptor(
        s.channel.clone(),
        Bearer(Some(format!("Bearer {token}").parse().unwrap())),
    )
}

fn verifier(ca_pem: &[u8]) -> Arc<WebPkiServerVerifier> {
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(CertificateDer::from_pem_slice(ca_pem).expect("ca.pem is a PEM certificate"))
        .unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider)
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_part_gets_a_certificate_for_its_names_signed_by_the_fleet_ca() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part_id) = machine(&mut app, &s, "rover").await;
    let part = app
        .get_robot_part(GetRobotPartRequest {
            id: part_id.clone(),
        })
        .await
        .unwrap()
        .into_inner()
        .part
        .unwrap();
    let mut robot = as_part(&s, &mut app, &part_id).await;
    let resp = robot
        .certificate(CertificateRequest {
            id: part_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(resp.id, part_id);

    let ca = std::fs::read(s.dir.path().join("ca.pem")).expect("the fleet CA in the data dir");
    let v = verifier(&ca);
    let leaf = CertificateDer::from_pem_slice(resp.tls_certificate.as_bytes())
        .expect("tls_certificate is a PEM certificate");
    let name = |n: &str| ServerName::try_from(n.to_string()).unwrap();
    for n in [&part.fqdn, &part.local_fqdn] {
        v.verify_server_cert(&leaf, &[], &name(n), &[], UnixTime::now())
            .unwrap_or_else(|e| panic!("the certificate should be valid for {n}: {e}"));
    }
    let other = v.verify_server_cert(&leaf, &[], &name("other.example.com"), &[], UnixTime::now());
    assert!(other.is_err(), "valid only for the part's names");
    let later = UnixTime::since_unix_epoch(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            + Duration::from_secs(91 * 86_400),
    );
    let expired = v.verify_server_cert(&leaf, &[], &name(&part.fqdn), &[], later);
    assert!(
        format!("{expired:?}").contains("Expired"),
        "valid for 90 days: {expired:?}"
    );

    // The key is the certificate's.
    let key = PrivateKeyDer::from_pem_slice(resp.tls_private_key.as_bytes())
        .expect("tls_private_key is a PEM private key");
    let certified = rustls::sign::CertifiedKey::from_der(
        vec![leaf.clone()],
        key,
        &rustls::crypto::ring::default_provider(),
    );
    assert!(certified.is_ok(), "the key matches: {certified:?}");

    // Another call: a new key, the same CA.
    let again = robot
        .certificate(CertificateRequest {
            id: part_id.clone(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_ne!(again.tls_private_key, resp.tls_private_key);
    let leaf2 = CertificateDer::from_pem_slice(again.tls_certificate.as_bytes()).unwrap();
    v.verify_server_cert(&leaf2, &[], &name(&part.fqdn), &[], UnixTime::now())
        .expect("signed by the same CA");
    assert_eq!(
        std::fs::read(s.dir.path().join("ca.pem")).unwrap(),
        ca,
        "the CA is made once"
    );
}

#[tokio::test]
async fn only_the_part_or_its_organization_may_fetch_its_certificate() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (_, part) = machine(&mut app, &s, "rover").await;
    let (_, other_part) = machine(&mut app, &s, "other").await;
    let mut robot = as_part(&s, &mut app, &part).await;
    assert_status(
        robot
            .certificate(CertificateRequest {
                id: other_part.clone(),
            })
            .await,
        Code::PermissionDenied,
        "only ask about itself",
    );
    let other_org = second_org(&mut app).await;
    let mut stranger = robot_as_owner_of(&s, &other_org).await;
    assert_status(
        stranger
            .certificate(CertificateRequest { id: part.clone() })
            .await,
        Code::PermissionDenied,
        "permission denied",
    );
    assert!(
        !s.dir.path().join("ca.key").exists(),
        "refused calls make no CA"
    );
}
