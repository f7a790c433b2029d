//! `fleetsh serve --tls-cert/--tls-key` speaks TLS, and the same API works over it.

use fleetsh::proto::rpc::v1::auth_service_client::AuthServiceClient;
use fleetsh::proto::rpc::v1::{AuthenticateRequest, Credentials as RpcCredentials};
use tonic::transport::{Certificate, Channel, ClientTlsConfig};

const FIXTURES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");

#[tokio::test]
async fn serves_tls_with_the_given_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fleetsh::server::ServeOptions::new(dir.path());
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.tls_cert = Some(format!("{FIXTURES}/server.pem").into());
    opts.tls_key = Some(format!("{FIXTURES}/server.key").into());
    let fleet = fleetsh::server::start(&opts).await.unwrap();
    assert!(fleet.credentials.address.starts_with("https://"));

    let ca = Certificate::from_pem(std::fs::read(format!("{FIXTURES}/ca.pem")).unwrap());
    let tls = ClientTlsConfig::new()
        .ca_certificate(ca)
        .domain_name("localhost");
    let channel = Channel::from_shared(fleet.credentials.address.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let token = AuthServiceClient::new(channel)
        .authenticate(AuthenticateRequest {
            entity: fleet.credentials.api_key_id.clone(),
            credentials: Some(RpcCredentials {
                r#type: "api-key".into(),
                payload: fleet.credentials.api_key.clone(),
            }),
        })
        .await
        .unwrap()
        .into_inner()
        .access_token;
    assert!(!token.is_empty());

    // A plaintext client cannot talk to it.
    let plain = format!("http://{}", fleet.addr);
    let plain = Channel::from_shared(plain)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let r = AuthServiceClient::new(plain)
        .authenticate(AuthenticateRequest::default())
        .await;
    assert!(r.is_err());
    fleet.stop().await.unwrap();
}

#[tokio::test]
async fn refuses_non_loopback_addresses_without_allow_remote() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fleetsh::server::ServeOptions::new(dir.path());
    opts.listen = "0.0.0.0:0".parse().unwrap();
    let err = fleetsh::server::start(&opts)
        .await
        .err()
        .expect("must refuse");
    assert!(err.to_string().contains("--allow-remote"), "{err}");
}
