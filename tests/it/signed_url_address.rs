//! A fleet listening on every address (`--listen 0.0.0.0:PORT --allow-remote`): 0.0.0.0 names
//! no host a client can reach, so signed URLs name the address the client reached the fleet
//! at, and credentials.json records loopback for clients on the same machine.

use fleetsh::proto::viam::app::data::v1::CreateBinaryDataSignedUrlRequest;
use fleetsh::proto::viam::app::datasync::v1::*;
use fleetsh::proto::viam::app::v1::app_service_client::AppServiceClient;
use tonic::transport::Channel;

use crate::data_api::{data_client, new_part, sync_client};
use crate::harness::Bearer;

#[tokio::test]
async fn a_fleet_on_every_address_signs_urls_on_the_address_the_client_reached() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fleetsh::server::ServeOptions::new(dir.path());
    opts.listen = "0.0.0.0:0".parse().unwrap();
    opts.allow_remote = true;
    let fleet = fleetsh::server::start(&opts).await.unwrap();
    let port = fleet.addr.port();
    assert_eq!(
        fleet.credentials.address,
        format!("http://127.0.0.1:{port}"),
        "credentials.json must name an address a local client can reach"
    );
    // Another loopback address stands for the machine's address on the network: not the
    // one the fleet falls back to.
    let reached = format!("http://127.0.0.2:{port}");
    let channel = Channel::from_shared(reached.clone())
        .unwrap()
        .connect()
        .await
        .unwrap();
    let c = fleet.credentials.clone();
    let token = crate::setup::token_on(&channel, &c.api_key_id, &c.api_key).await;
    let header = format!("Bearer {token}").parse().unwrap();
    let mut app = AppServiceClient::with_interceptor(channel.clone(), Bearer(Some(header)));
    let part = new_part(&mut app, &c.location_id, "lan-bot").await;
    let id = sync_client(&channel, &token)
        .data_capture_upload(DataCaptureUploadRequest {
            metadata: Some(UploadMetadata {
                part_id: part,
                component_type: "rdk:component:camera".into(),
                component_name: "cam".into(),
                method_name: "GetImages".into(),
                r#type: DataType::BinarySensor as i32,
                mime_type: "image/jpeg".into(),
                ..Default::default()
            }),
            sensor_contents: vec![SensorData {
                metadata: None,
                data: Some(sensor_data::Data::Binary(b"on the lan".to_vec())),
            }],
        })
        .await
        .unwrap()
        .into_inner()
        .binary_data_id;
    let url = data_client(&channel, &token)
        .create_binary_data_signed_url(CreateBinaryDataSignedUrlRequest {
            binary_data_id: id,
            expiration_minutes: None,
        })
        .await
        .unwrap()
        .into_inner()
        .signed_url;
    assert!(
        url.starts_with(&format!("{reached}/signed-url/")),
        "the URL must name the address the client reached, {reached}: {url}"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::get(&url).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], b"on the lan");
    fleet.stop().await.unwrap();
}
