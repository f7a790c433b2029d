//! PackageService in the local fleet: a package version is uploaded in
//! chunks, stored with its bytes under a server-made file name, got (with a URL to its bytes),
//! listed with filters and deleted; names that would be paths, unknown ids and other
//! organizations are refused.

use fleetsh::proto::viam::app::packages::v1::create_package_request::Package as Packet;
use fleetsh::proto::viam::app::packages::v1::package_service_client::PackageServiceClient;
use fleetsh::proto::viam::app::packages::v1::*;
use sha2::{Digest, Sha256};
use tonic::Code;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;

use crate::harness::{Bearer, TestServer, assert_status};
use crate::setup::{bearer, org_token, other_org, owner_token};

type Packages = PackageServiceClient<InterceptedService<Channel, Bearer>>;

fn client(s: &TestServer, token: &str) -> Packages {
    PackageServiceClient::with_interceptor(s.channel.clone(), bearer(token))
}

async fn owner(s: &TestServer) -> Packages {
    client(s, &owner_token(s).await)
}

fn info(org: &str, name: &str, version: &str, t: PackageType) -> PackageInfo {
    PackageInfo {
        organization_id: org.into(),
        name: name.into(),
        version: version.into(),
        r#type: t as i32,
        platform: None,
        files: vec![FileInfo {
            name: "model.tflite".into(),
            size: 6,
            is_directory: Some(false),
        }],
        metadata: None,
    }
}

/// The info, then `bytes` in chunks of `chunk`.
fn upload(info: PackageInfo, bytes: &[u8], chunk: usize) -> Vec<CreatePackageRequest> {
    let mut msgs = vec![CreatePackageRequest {
        package: Some(Packet::Info(info)),
    }];
    msgs.extend(bytes.chunks(chunk).map(|c| CreatePackageRequest {
        package: Some(Packet::Contents(c.to_vec())),
    }));
    msgs
}

async fn create(
    p: &mut Packages,
    msgs: Vec<CreatePackageRequest>,
) -> Result<CreatePackageResponse, tonic::Status> {
    p.create_package(tokio_stream::iter(msgs))
        .await
        .map(|r| r.into_inner())
}

fn get_req(id: &str, version: &str, url: bool) -> GetPackageRequest {
    GetPackageRequest {
        id: id.into(),
        version: version.into(),
        include_url: Some(url),
        r#type: None,
        platform: None,
    }
}

fn list_req(org: &str) -> ListPackagesRequest {
    ListPackagesRequest {
        organization_id: org.into(),
        name: None,
        version: None,
        r#type: None,
        include_url: None,
    }
}

fn stored_files(s: &TestServer) -> Vec<String> {
    let dir = s.fleet.api.data_dir.join("packages");
    std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn a_package_is_uploaded_in_chunks_got_listed_and_deleted() {
    let s = TestServer::start().await;
    let mut p = owner(&s).await;
    let org = s.org_id().to_string();
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    let made = create(
        &mut p,
        upload(
            info(&org, "detector", "1", PackageType::MlModel),
            &bytes,
            4096,
        ),
    )
    .await
    .unwrap();
    assert_eq!(made.id, format!("{org}/detector"));
    assert_eq!(made.version, "1");
    create(
        &mut p,
        upload(
            info(&org, "detector", "2", PackageType::MlModel),
            b"second",
            3,
        ),
    )
    .await
    .unwrap();
    create(
        &mut p,
        upload(info(&org, "maps", "1", PackageType::SlamMap), b"map", 10),
    )
    .await
    .unwrap();

    let got = p
        .get_package(get_req(&made.id, "1", true))
        .await
        .unwrap()
        .into_inner()
        .package
        .unwrap();
    assert_eq!(got.id, made.id);
    assert_eq!(got.checksum, hex::encode(Sha256::digest(&bytes)));
    let i = got.info.as_ref().unwrap();
    assert_eq!(
        (i.name.as_str(), i.version.as_str(), i.r#type),
        ("detector", "1", PackageType::MlModel as i32)
    );
    assert_eq!(i.files[0].name, "model.tflite");
    assert!(got.created_on.is_some());
    // The URL is a signed URL of the fleet's own address serving the stored bytes.
    let base = format!("{}/signed-url/", s.fleet.credentials.address);
    assert!(got.url.starts_with(&base), "{}", got.url);
    let _ = rustls::crypto::ring::default_provider().install_default();
    let r = reqwest::get(&got.url).await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap(), bytes);
    let without = p
        .get_package(get_req(&made.id, "1", false))
        .await
        .unwrap()
        .into_inner()
        .package
        .unwrap();
    assert_eq!(without.url, "", "no URL unless asked");
    let latest = p
        .get_package(get_req(&made.id, "latest", false))
        .await
        .unwrap()
        .into_inner()
        .package
        .unwrap();
    assert_eq!(latest.info.unwrap().version, "2");
    // File names are the server's, whatever the package is called.
    for f in stored_files(&s) {
        assert!(uuid::Uuid::parse_str(&f).is_ok(), "{f}");
    }
    assert_eq!(stored_files(&s).len(), 3);

    let all = p.list_packages(list_req(&org)).await.unwrap().into_inner();
    assert_eq!(all.packages.len(), 3);
    let mut by_name = list_req(&org);
    by_name.name = Some("detector".into());
    let detectors = p
        .list_packages(by_name)
        .await
        .unwrap()
        .into_inner()
        .packages;
    let versions: Vec<String> = detectors
        .iter()
        .map(|d| d.info.as_ref().unwrap().version.clone())
        .collect();
    assert_eq!(versions, ["2", "1"], "newest first");
    let mut maps = list_req(&org);
    maps.r#type = Some(PackageType::SlamMap as i32);
    let maps = p.list_packages(maps).await.unwrap().into_inner().packages;
    assert_eq!(maps.len(), 1);
    assert_eq!(maps[0].id, format!("{org}/maps"));

    p.delete_package(DeletePackageRequest {
        id: made.id.clone(),
        version: "1".into(),
        r#type: PackageType::MlModel as i32,
    })
    .await
    .unwrap();
    assert_status(
        p.get_package(get_req(&made.id, "1", false)).await,
        Code::NotFound,
        "detector",
    );
    let gone = reqwest::get(&got.url).await.unwrap().status().as_u16();
    assert_eq!(gone, 403, "its URL went with it");
    assert_eq!(stored_files(&s).len(), 2);
    assert_status(
        p.delete_package(DeletePackageRequest {
            id: made.id.clone(),
            version: "1".into(),
            r#type: PackageType::MlModel as i32,
        })
        .await,
        Code::NotFound,
        "detector",
    );
}

#[tokio::test]
async fn names_that_would_be_paths_and_bad_uploads_are_refused() {
    let s = TestServer::start().await;
    let mut p = owner(&s).await;
    let org = s.org_id().to_string();
    for (name, version) in [
        ("../evil", "1"),
        ("..", "1"),
        ("ok", "../1"),
        ("", "1"),
        ("ok", ""),
    ] {
        let r = create(
            &mut p,
            upload(info(&org, name, version, PackageType::Archive), b"x", 1),
        )
        .await;
        assert_status(r, Code::InvalidArgument, "info.");
    }
    assert!(stored_files(&s).is_empty(), "{:?}", stored_files(&s));
    let untyped = create(
        &mut p,
        upload(info(&org, "ok", "1", PackageType::Unspecified), b"x", 1),
    )
    .await;
    assert_status(untyped, Code::InvalidArgument, "info.type");
    let contents_first = vec![CreatePackageRequest {
        package: Some(Packet::Contents(b"x".to_vec())),
    }];
    assert_status(
        create(&mut p, contents_first).await,
        Code::InvalidArgument,
        "first message",
    );
    assert_status(create(&mut p, vec![]).await, Code::InvalidArgument, "info");
    let unknown_org = create(
        &mut p,
        upload(
            info("no-such-org", "ok", "1", PackageType::Archive),
            b"x",
            1,
        ),
    )
    .await;
    assert_status(unknown_org, Code::NotFound, "no-such-org");
    create(
        &mut p,
        upload(info(&org, "ok", "1", PackageType::Archive), b"x", 1),
    )
    .await
    .unwrap();
    let again = create(
        &mut p,
        upload(info(&org, "ok", "1", PackageType::Archive), b"y", 1),
    )
    .await;
    assert_status(again, Code::AlreadyExists, "version \"1\"");
    for id in ["no-slash", "../../etc/passwd", &format!("{org}/missing")] {
        assert_status(
            p.get_package(get_req(id, "1", false)).await,
            Code::NotFound,
            "",
        );
    }
    assert_status(
        p.get_package(get_req("", "1", false)).await,
        Code::InvalidArgument,
        "id",
    );
    assert_status(
        p.get_package(get_req(&format!("{org}/ok"), "", false))
            .await,
        Code::InvalidArgument,
        "version",
    );
}

#[tokio::test]
async fn another_organization_neither_reads_nor_writes_packages() {
    let s = TestServer::start().await;
    let mut p = owner(&s).await;
    let org = s.org_id().to_string();
    let made = create(
        &mut p,
        upload(info(&org, "model", "1", PackageType::MlModel), b"bytes", 2),
    )
    .await
    .unwrap();
    let (_, other) = other_org(&s).await;
    let mut other = client(&s, &other);
    assert_status(
        other.get_package(get_req(&made.id, "1", true)).await,
        Code::PermissionDenied,
        "",
    );
    assert_status(
        other.list_packages(list_req(&org)).await,
        Code::PermissionDenied,
        "",
    );
    let theirs = create(
        &mut other,
        upload(info(&org, "x", "1", PackageType::MlModel), b"bytes", 2),
    )
    .await;
    assert_status(theirs, Code::PermissionDenied, "");
    assert_status(
        other
            .delete_package(DeletePackageRequest {
                id: made.id.clone(),
                version: "1".into(),
                r#type: 0,
            })
            .await,
        Code::PermissionDenied,
        "",
    );
    // An operator reads but does not write.
    let mut operator = client(&s, &org_token(&s, &org, "operator").await);
    let listed = operator.list_packages(list_req(&org)).await.unwrap();
    assert_eq!(listed.into_inner().packages.len(), 1);
    let denied = create(
        &mut operator,
        upload(info(&org, "y", "1", PackageType::MlModel), b"bytes", 2),
    )
    .await;
    assert_status(denied, Code::PermissionDenied, "");
    assert_eq!(stored_files(&s).len(), 1);
}
