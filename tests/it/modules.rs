use bytes::Bytes;
use fleetsh::proto::viam::app::v1::upload_module_file_request::ModuleFile;
use fleetsh::proto::viam::app::v1::*;
use sha2::{Digest, Sha256};
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::setup::{key_in, second_org};

const PRIVATE: i32 = Visibility::Private as i32;
const PUBLIC: i32 = Visibility::Public as i32;

/// The module id prefix of an organization: its namespace, or its id before it claims one.
async fn prefix(app: &mut App, org: &str) -> String {
    let req = GetOrganizationRequest {
        organization_id: org.into(),
    };
    let o = app
        .get_organization(req)
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap();
    if o.public_namespace.is_empty() {
        o.id
    } else {
        o.public_namespace
    }
}

async fn create(app: &mut App, org: &str, name: &str) -> CreateModuleResponse {
    let req = CreateModuleRequest {
        organization_id: org.into(),
        name: name.into(),
    };
    app.create_module(req).await.unwrap().into_inner()
}

async fn get(app: &mut App, id: &str) -> Result<Module, tonic::Status> {
    let req = GetModuleRequest {
        module_id: id.into(),
        include_markdown_documentation: None,
    };
    app.get_module(req)
        .await
        .map(|r| r.into_inner().module.unwrap())
}

fn model(api: &str, md: Option<&str>) -> Model {
    Model {
        api: api.into(),
        model: "acme:demo:thing".into(),
        markdown_documentation: md.map(Into::into),
        ..Model::default()
    }
}

/// UpdateModule as the Python SDK sends it.
fn python_update(id: &str, public: bool, models: Vec<Model>) -> UpdateModuleRequest {
    UpdateModuleRequest {
        module_id: id.into(),
        visibility: if public { PUBLIC } else { PRIVATE },
        url: "https://example.com/docs".into(),
        description: "does things".into(),
        models,
        entrypoint: "bin/run".into(),
        ..UpdateModuleRequest::default()
    }
}

#[tokio::test]
async fn modules_are_created_updated_read_and_listed() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id();
    let ns = prefix(&mut app, org).await;
    let created = create(&mut app, org, "my_mod-1").await;
    assert_eq!(created.module_id, format!("{ns}:my_mod-1"));
    assert_eq!(created.url, format!("fleetsh://modules/{ns}/my_mod-1"));
    let req = CreateModuleRequest {
        organization_id: org.into(),
        name: "my_mod-1".into(),
    };
    assert_status(
        app.create_module(req).await,
        Code::AlreadyExists,
        "my_mod-1",
    );
    let req = CreateModuleRequest {
        organization_id: org.into(),
        name: "my mod".into(),
    };
    assert_status(app.create_module(req).await, Code::InvalidArgument, "name");
    let req = CreateModuleRequest {
        organization_id: org.into(),
        name: "".into(),
    };
    assert_status(app.create_module(req).await, Code::InvalidArgument, "name");

    let m = get(&mut app, &created.module_id).await.unwrap();
    assert_eq!(
        (m.name.as_str(), m.visibility, m.organization_id.as_str()),
        ("my_mod-1", PRIVATE, org)
    );
    assert!(m.versions.is_empty());

    let update = python_update(
        &created.module_id,
        true,
        vec![model("rdk:component:arm", Some("# Arm"))],
    );
    let url = app.update_module(update).await.unwrap().into_inner().url;
    assert_eq!(url, created.url);
    let m = get(&mut app, "my_mod-1").await.unwrap();
    assert_eq!(
        m.module_id, created.module_id,
        "a bare name resolves in the caller's organization"
    );
    assert_eq!(
        (m.visibility, m.url.as_str(), m.entrypoint.as_str()),
        (PUBLIC, "https://example.com/docs", "bin/run")
    );
    assert_eq!(m.models.len(), 1);
    assert_eq!(
        m.models[0].markdown_documentation, None,
        "markdown only on request"
    );
    let req = GetModuleRequest {
        module_id: created.module_id.clone(),
        include_markdown_documentation: Some(true),
    };
    let m = app
        .get_module(req)
        .await
        .unwrap()
        .into_inner()
        .module
        .unwrap();
    assert_eq!(m.models[0].markdown_documentation.as_deref(), Some("# Arm"));

    // Fields the Python SDK never sends are kept when absent.
    let req = UpdateModuleRequest {
        first_run: Some("setup.sh".into()),
        ..python_update(&m.module_id, true, vec![])
    };
    app.update_module(req).await.unwrap();
    app.update_module(python_update(&m.module_id, false, vec![]))
        .await
        .unwrap();
    let m = get(&mut app, &m.module_id).await.unwrap();
    assert_eq!(
        (m.first_run.as_deref(), m.visibility, m.models.len()),
        (Some("setup.sh"), PRIVATE, 0)
    );

    assert_status(
        app.update_module(python_update(&m.module_id, false, vec![model("", None)]))
            .await,
        Code::InvalidArgument,
        "models[0].api",
    );
    assert_status(
        app.update_module(python_update("nope:x", false, vec![]))
            .await,
        Code::NotFound,
        "nope:x",
    );
    for bad in [
        "docs.example.com",
        "ftp://example.com/x",
        "javascript:alert(1)",
    ] {
        let req = UpdateModuleRequest {
            url: bad.into(),
            ..python_update(&m.module_id, false, vec![])
        };
        assert_status(
            app.update_module(req).await,
            Code::InvalidArgument,
            &format!("url: {bad:?} is not an http(s) URL"),
        );
    }
    assert_eq!(
        get(&mut app, &m.module_id).await.unwrap().url,
        "https://example.com/docs",
        "a refused update changed the module"
    );
    assert_status(
        get(&mut app, "nope:x").await,
        Code::NotFound,
        "module \"nope:x\"",
    );

    create(&mut app, org, "second").await;
    let list = app
        .list_modules(ListModulesRequest {
            organization_id: Some(org.into()),
            include_markdown_documentation: None,
        })
        .await
        .unwrap()
        .into_inner()
        .modules;
    assert_eq!(
        list.iter().map(|m| m.name.as_str()).collect::<Vec<_>>(),
        ["my_mod-1", "second"]
    );
}

#[tokio::test]
async fn other_organizations_see_only_public_modules_and_change_none() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let (a, b) = (s.org_id().to_string(), second_org(&mut owner).await);
    let private = create(&mut owner, &b, "b-private").await.module_id;
    assert_eq!(
        private,
        format!("{b}:b-private"),
        "an organization without a namespace uses its id"
    );
    let public = create(&mut owner, &b, "b-public").await.module_id;
    owner
        .update_module(python_update(&public, true, vec![]))
        .await
        .unwrap();
    create(&mut owner, &a, "a-own").await;

    let list = |org: &str| ListModulesRequest {
        organization_id: Some(org.into()),
        include_markdown_documentation: None,
    };
    let names = |l: Vec<Module>| l.into_iter().map(|m| m.name).collect::<Vec<_>>();
    let from_a = owner
        .list_modules(list(&a))
        .await
        .unwrap()
        .into_inner()
        .modules;
    assert_eq!(names(from_a), ["b-public", "a-own"]);

    let mut only_a = key_in(&s, &a, "owner").await;
    assert_eq!(get(&mut only_a, &public).await.unwrap().name, "b-public");
    assert_status(
        get(&mut only_a, &private).await,
        Code::PermissionDenied,
        "private",
    );
    assert_status(
        only_a.list_modules(list(&b)).await,
        Code::PermissionDenied,
        "read_organization",
    );
    let all = only_a
        .list_modules(ListModulesRequest::default())
        .await
        .unwrap()
        .into_inner()
        .modules;
    assert_eq!(names(all), ["b-public", "a-own"]);
    assert_status(
        only_a
            .update_module(python_update(&public, false, vec![]))
            .await,
        Code::PermissionDenied,
        "write_organization",
    );
    let req = CreateModuleRequest {
        organization_id: b.clone(),
        name: "intruder".into(),
    };
    assert_status(
        only_a.create_module(req).await,
        Code::PermissionDenied,
        "write_organization",
    );
    let r = only_a
        .upload_module_file(upload_msgs(
            &public,
            "1.0.0",
            "any",
            vec![Bytes::from_static(b"x")],
        ))
        .await;
    assert_status(r, Code::PermissionDenied, "write_organization");
}

fn info(module_id: &str, version: &str, platform: &str) -> UploadModuleFileRequest {
    let info = ModuleFileInfo {
        module_id: module_id.into(),
        version: version.into(),
        platform: platform.into(),
        platform_tags: vec![],
    };
    UploadModuleFileRequest {
        module_file: Some(ModuleFile::ModuleFileInfo(info)),
    }
}

fn chunk(b: Bytes) -> UploadModuleFileRequest {
    UploadModuleFileRequest {
        module_file: Some(ModuleFile::File(b)),
    }
}

fn upload_msgs(
    module_id: &str,
    version: &str,
    platform: &str,
    chunks: Vec<Bytes>,
) -> impl tonic::IntoStreamingRequest<Message = UploadModuleFileRequest> + use<> {
    let mut msgs = vec![info(module_id, version, platform)];
    msgs.extend(chunks.into_iter().map(chunk));
    tokio_stream::iter(msgs)
}

/// (path, size, sha256) recorded for one uploaded file.
fn recorded(
    s: &TestServer,
    module_id: &str,
    version: &str,
    platform: &str,
) -> (String, i64, String) {
    s.fleet
        .api
        .store
        .read(|c| {
            Ok(c.query_row(
                "SELECT path, size, sha256 FROM module_files WHERE module_id = ?1 AND version = ?2 AND platform = ?3",
                [module_id, version, platform],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )?)
        })
        .unwrap()
}

fn files_under(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(files_under(&p))
        } else {
            out.push(p)
        }
    }
    out.sort();
    out
}

#[tokio::test]
async fn module_files_upload_whole_or_in_chunks_and_are_recorded() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let id = create(&mut app, s.org_id(), "big").await.module_id;

    // 64 MiB in one message after the info message, as the Python SDK sends it.
    let data: Bytes = (0..64u32 << 20)
        .map(|i| (i % 251) as u8)
        .collect::<Vec<u8>>()
        .into();
    let url = app
        .upload_module_file(upload_msgs(&id, "1.0.0", "linux/amd64", vec![data.clone()]))
        .await
        .unwrap();
    assert_eq!(
        url.into_inner().url,
        format!(
            "fleetsh://modules/{}/big",
            prefix(&mut app, s.org_id()).await
        )
    );
    let (path, size, sha) = recorded(&s, &id, "1.0.0", "linux/amd64");
    assert_eq!(
        (size, sha.as_str()),
        (
            data.len() as i64,
            hex::encode(Sha256::digest(&data)).as_str()
        )
    );
    let on_disk = std::fs::read(s.dir.path().join(&path)).unwrap();
    assert!(on_disk == data, "the file on disk is the upload");
    drop(on_disk);

    // Several chunks; then a re-upload of the same version and platform replaces it.
    let parts: Vec<Bytes> = ["ab", "", "cde", "f"]
        .into_iter()
        .map(|p| Bytes::from_static(p.as_bytes()))
        .collect();
    app.upload_module_file(upload_msgs(&id, "1.1.0-rc.1", "linux/arm64", parts))
        .await
        .unwrap();
    let (path2, size, sha) = recorded(&s, &id, "1.1.0-rc.1", "linux/arm64");
    assert_eq!((size, sha), (6, hex::encode(Sha256::digest(b"abcdef"))));
    assert_eq!(std::fs::read(s.dir.path().join(&path2)).unwrap(), b"abcdef");
    let small = vec![Bytes::from_static(b"tiny")];
    app.upload_module_file(upload_msgs(&id, "1.0.0", "linux/amd64", small))
        .await
        .unwrap();
    assert_eq!(recorded(&s, &id, "1.0.0", "linux/amd64").1, 4);
    assert_eq!(std::fs::read(s.dir.path().join(&path)).unwrap(), b"tiny");

    let m = get(&mut app, &id).await.unwrap();
    let versions: Vec<(&str, Vec<&str>)> = m
        .versions
        .iter()
        .map(|v| {
            (
                v.version.as_str(),
                v.files.iter().map(|f| f.platform.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        versions,
        [
            ("1.1.0-rc.1", vec!["linux/arm64"]),
            ("1.0.0", vec!["linux/amd64"])
        ],
        "ordered by upload"
    );
    assert!(m.versions[0].files[0].uploaded_at.is_some());
    let files = files_under(&s.dir.path().join("modules"));
    assert_eq!(files.len(), 2, "no partial files left: {files:?}");
}

#[tokio::test]
async fn bad_uploads_are_refused_and_write_nothing() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let id = create(&mut app, s.org_id(), "m").await.module_id;
    let x = || vec![Bytes::from_static(b"x")];
    let cases: [(&str, &str, &str, Code, &str); 8] = [
        (
            &id,
            "../../../escape",
            "any",
            Code::InvalidArgument,
            "version",
        ),
        (&id, "1.0.0/../..", "any", Code::InvalidArgument, "version"),
        (&id, "", "any", Code::InvalidArgument, "version"),
        (
            &id,
            "1.0.0",
            "../../../../escape",
            Code::InvalidArgument,
            "platform",
        ),
        (&id, "1.0.0", "linux/..", Code::InvalidArgument, "platform"),
        (&id, "1.0.0", "", Code::InvalidArgument, "platform"),
        ("../../escape", "1.0.0", "any", Code::NotFound, "module"),
        ("", "1.0.0", "any", Code::InvalidArgument, "module_id"),
    ];
    for (module, version, platform, code, needle) in cases {
        assert_status(
            app.upload_module_file(upload_msgs(module, version, platform, x()))
                .await,
            code,
            needle,
        );
    }
    // File data first, no file data, or info twice.
    let r = app
        .upload_module_file(tokio_stream::iter(vec![chunk(Bytes::from_static(b"x"))]))
        .await;
    assert_status(r, Code::InvalidArgument, "module_file_info");
    assert_status(
        app.upload_module_file(upload_msgs(&id, "1.0.0", "any", vec![]))
            .await,
        Code::InvalidArgument,
        "file",
    );
    let twice = vec![
        info(&id, "1.0.0", "any"),
        info(&id, "1.0.0", "any"),
        chunk(Bytes::from_static(b"x")),
    ];
    assert_status(
        app.upload_module_file(tokio_stream::iter(twice)).await,
        Code::InvalidArgument,
        "twice",
    );

    assert_eq!(
        files_under(&s.dir.path().join("modules")),
        Vec::<std::path::PathBuf>::new()
    );
    assert!(
        !s.dir.path().join("escape").exists()
            && !s.dir.path().parent().unwrap().join("escape").exists()
    );
    assert!(get(&mut app, &id).await.unwrap().versions.is_empty());
}
