//! Registry items: a module is the item of type module (same id, same versions); ML models
//! and training scripts are items of their own; list filters, deprecations, rename, transfer
//! and delete, and what another organization sees.

use fleetsh::proto::viam::app::packages::v1::PackageType;
use fleetsh::proto::viam::app::v1::registry_item::Metadata;
use fleetsh::proto::viam::app::v1::*;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::setup::{key_in, second_org};

const MODULE: i32 = PackageType::Module as i32;
const ML_MODEL: i32 = PackageType::MlModel as i32;
const ML_TRAINING: i32 = PackageType::MlTraining as i32;
const PRIVATE: i32 = Visibility::Private as i32;
const PUBLIC: i32 = Visibility::Public as i32;

/// The item id prefix of an organization: its namespace, or its id before it claims one.
async fn prefix(app: &mut App, org: &str) -> String {
    let req = GetOrganizationRequest {
        organization_id: org.into(),
    };
    let o = app.get_organization(req).await.unwrap().into_inner();
    let o = o.organization.unwrap();
    if o.public_namespace.is_empty() {
        o.id
    } else {
        o.public_namespace
    }
}

async fn create(app: &mut App, org: &str, name: &str, kind: i32) -> Result<(), tonic::Status> {
    let req = CreateRegistryItemRequest {
        organization_id: org.into(),
        name: name.into(),
        r#type: kind,
    };
    app.create_registry_item(req).await.map(|_| ())
}

async fn get(app: &mut App, id: &str) -> Result<RegistryItem, tonic::Status> {
    let req = GetRegistryItemRequest {
        item_id: id.into(),
        include_markdown_documentation: None,
    };
    Ok(app.get_registry_item(req).await?.into_inner().item.unwrap())
}

async fn list(app: &mut App, req: ListRegistryItemsRequest) -> Vec<String> {
    let items = app
        .list_registry_items(req)
        .await
        .unwrap()
        .into_inner()
        .items;
    items.into_iter().map(|i| i.name).collect()
}

fn in_org(org: &str) -> ListRegistryItemsRequest {
    ListRegistryItemsRequest {
        organization_id: Some(org.into()),
        ..ListRegistryItemsRequest::default()
    }
}

/// Records an uploaded file of `version` for `module_id`, with its file on disk.
fn seed_version(s: &TestServer, module_id: &str, version: &str) -> std::path::PathBuf {
    let rel = format!("modules/seeded-{}-{version}", module_id.replace(':', "_"));
    let path = s.fleet.api.data_dir.join(&rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, b"x").unwrap();
    s.fleet
        .api
        .store
        .tx(|tx| {
            tx.execute(
                "INSERT INTO module_files(module_id, version, platform, path, size, sha256, uploaded_at)
                 VALUES (?1, ?2, 'linux/amd64', ?3, 1, '', 1)",
                [module_id, version, &rel],
            )?;
            Ok(())
        })
        .unwrap();
    path
}

fn module_versions(item: &RegistryItem) -> Vec<(String, Option<String>)> {
    match &item.metadata {
        Some(Metadata::ModuleMetadata(m)) => m
            .versions
            .iter()
            .map(|v| {
                let d = v.deprecated_status.as_ref().map(|d| d.message.clone());
                (v.version.clone(), d)
            })
            .collect(),
        other => panic!("not module metadata: {other:?}"),
    }
}

#[tokio::test]
async fn a_module_is_a_registry_item_both_ways() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let ns = prefix(&mut app, &org).await;
    create(&mut app, &org, "cam", MODULE).await.unwrap();
    let id = format!("{ns}:cam");
    // The item made the module.
    let module = app
        .get_module(GetModuleRequest {
            module_id: id.clone(),
            include_markdown_documentation: None,
        })
        .await
        .unwrap()
        .into_inner()
        .module
        .unwrap();
    assert_eq!(module.name, "cam");
    let item = get(&mut app, &id).await.unwrap();
    assert_eq!(
        (item.r#type, item.visibility, item.organization_id.as_str()),
        (MODULE, PRIVATE, org.as_str())
    );
    assert!(item.created_at.is_some());

    // Updating the item updates the module.
    let req = UpdateRegistryItemRequest {
        item_id: id.clone(),
        r#type: MODULE,
        description: "a camera".into(),
        visibility: PUBLIC,
        url: Some("https://example.com/cam".into()),
        ..UpdateRegistryItemRequest::default()
    };
    app.update_registry_item(req).await.unwrap();
    let module = app
        .get_module(GetModuleRequest {
            module_id: id.clone(),
            include_markdown_documentation: None,
        })
        .await
        .unwrap()
        .into_inner()
        .module
        .unwrap();
    assert_eq!(
        (
            module.description.as_str(),
            module.visibility,
            module.url.as_str()
        ),
        ("a camera", PUBLIC, "https://example.com/cam")
    );

    // Its versions are the uploaded files; a version's deprecation shows on it.
    seed_version(&s, &id, "1.0.0");
    seed_version(&s, &id, "1.1.0");
    let dep = DeprecateRegistryItemVersionRequest {
        item_id: id.clone(),
        version: "1.0.0".into(),
        message: "crashes".into(),
    };
    app.deprecate_registry_item_version(dep).await.unwrap();
    let item = get(&mut app, &id).await.unwrap();
    assert_eq!(
        module_versions(&item),
        [
            ("1.0.0".to_string(), Some("crashes".to_string())),
            ("1.1.0".to_string(), None)
        ]
    );
    let undep = UndeprecateRegistryItemVersionRequest {
        item_id: id.clone(),
        version: "1.0.0".into(),
    };
    app.undeprecate_registry_item_version(undep).await.unwrap();
    let item = get(&mut app, &id).await.unwrap();
    assert_eq!(module_versions(&item)[0].1, None);
    let missing = DeprecateRegistryItemVersionRequest {
        item_id: id.clone(),
        version: "9.9.9".into(),
        message: "m".into(),
    };
    assert_status(
        app.deprecate_registry_item_version(missing).await,
        Code::NotFound,
        "9.9.9",
    );

    // A type that does not match is refused, and the item is unchanged.
    let req = UpdateRegistryItemRequest {
        item_id: id.clone(),
        r#type: ML_MODEL,
        description: "x".into(),
        visibility: PRIVATE,
        ..UpdateRegistryItemRequest::default()
    };
    assert_status(
        app.update_registry_item(req).await,
        Code::InvalidArgument,
        "type",
    );
    assert_eq!(get(&mut app, &id).await.unwrap().description, "a camera");
}

#[tokio::test]
async fn items_are_listed_by_filter_and_names_are_unique_per_organization() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let ns = prefix(&mut app, &org).await;
    create(&mut app, &org, "detector", ML_MODEL).await.unwrap();
    create(&mut app, &org, "trainer", ML_TRAINING)
        .await
        .unwrap();
    create(&mut app, &org, "arm", MODULE).await.unwrap();
    for kind in [ML_MODEL, MODULE] {
        assert_status(
            create(&mut app, &org, "detector", kind).await,
            Code::AlreadyExists,
            "detector",
        );
    }
    assert_status(
        create(&mut app, &org, "x", PackageType::Archive as i32).await,
        Code::InvalidArgument,
        "type",
    );
    let item = get(&mut app, &format!("{ns}:detector")).await.unwrap();
    assert_eq!(item.r#type, ML_MODEL);
    assert!(matches!(item.metadata, Some(Metadata::MlModelMetadata(_))));

    assert_eq!(
        list(&mut app, in_org(&org)).await,
        ["detector", "trainer", "arm"]
    );
    let by_type = ListRegistryItemsRequest {
        types: vec![ML_TRAINING, MODULE],
        ..in_org(&org)
    };
    assert_eq!(list(&mut app, by_type).await, ["trainer", "arm"]);
    let by_search = ListRegistryItemsRequest {
        search_term: Some("DETECT".into()),
        ..in_org(&org)
    };
    assert_eq!(list(&mut app, by_search).await, ["detector"]);

    // Published: a version was uploaded; a platform filter matches the uploaded files.
    seed_version(&s, &format!("{ns}:arm"), "0.1.0");
    let published = ListRegistryItemsRequest {
        statuses: vec![RegistryItemStatus::Published as i32],
        ..in_org(&org)
    };
    assert_eq!(list(&mut app, published).await, ["arm"]);
    let in_dev = ListRegistryItemsRequest {
        statuses: vec![RegistryItemStatus::InDevelopment as i32],
        ..in_org(&org)
    };
    assert_eq!(list(&mut app, in_dev).await, ["detector", "trainer"]);
    for (platform, want) in [
        ("linux/amd64", vec!["arm"]),
        ("linux/any", vec!["arm"]),
        ("darwin/arm64", vec![]),
    ] {
        let req = ListRegistryItemsRequest {
            platforms: vec![platform.into()],
            ..in_org(&org)
        };
        assert_eq!(list(&mut app, req).await, want, "{platform}");
    }

    // A deprecated item is listed only to its owner, and only when asked for.
    let dep = DeprecateRegistryItemRequest {
        item_id: format!("{ns}:trainer"),
        message: "use detector".into(),
    };
    app.deprecate_registry_item(dep).await.unwrap();
    let item = get(&mut app, &format!("{ns}:trainer")).await.unwrap();
    assert_eq!(item.deprecated_status.unwrap().message, "use detector");
    assert_eq!(list(&mut app, in_org(&org)).await, ["detector", "arm"]);
    let owned = ListRegistryItemsRequest {
        show_owned_deprecated: Some(true),
        ..in_org(&org)
    };
    assert_eq!(list(&mut app, owned).await, ["detector", "trainer", "arm"]);
    let undep = UndeprecateRegistryItemRequest {
        item_id: format!("{ns}:trainer"),
    };
    app.undeprecate_registry_item(undep).await.unwrap();
    assert!(
        get(&mut app, &format!("{ns}:trainer"))
            .await
            .unwrap()
            .deprecated_status
            .is_none()
    );

    let bad_token = ListRegistryItemsRequest {
        page_token: Some("p2".into()),
        ..in_org(&org)
    };
    assert_status(
        app.list_registry_items(bad_token).await,
        Code::InvalidArgument,
        "page_token",
    );
}

#[tokio::test]
async fn rename_transfer_and_delete_carry_versions_and_files() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let ns = prefix(&mut app, &org).await;
    create(&mut app, &org, "old", MODULE).await.unwrap();
    let old = format!("{ns}:old");
    let file = seed_version(&s, &old, "1.0.0");
    let dep = DeprecateRegistryItemRequest {
        item_id: old.clone(),
        message: "renamed soon".into(),
    };
    app.deprecate_registry_item(dep).await.unwrap();

    let req = RenameRegistryItemRequest {
        item_id: old.clone(),
        new_name: "new".into(),
    };
    let item = app
        .rename_registry_item(req)
        .await
        .unwrap()
        .into_inner()
        .item
        .unwrap();
    let new = format!("{ns}:new");
    assert_eq!(
        (item.item_id.as_str(), item.name.as_str()),
        (new.as_str(), "new")
    );
    assert_eq!(module_versions(&item), [("1.0.0".to_string(), None)]);
    assert_eq!(item.deprecated_status.unwrap().message, "renamed soon");
    assert_status(get(&mut app, &old).await, Code::NotFound, &old);
    create(&mut app, &org, "taken", ML_MODEL).await.unwrap();
    let clash = RenameRegistryItemRequest {
        item_id: new.clone(),
        new_name: "taken".into(),
    };
    assert_status(
        app.rename_registry_item(clash).await,
        Code::AlreadyExists,
        "taken",
    );

    // Transfer to an organization the caller owns too; the other organization's owner
    // then holds it, and the first organization no longer lists it.
    let b = second_org(&mut app).await;
    let req = TransferRegistryItemRequest {
        item_id: new.clone(),
        new_public_namespace: b.clone(),
    };
    app.transfer_registry_item(req).await.unwrap();
    let moved = format!("{}:new", prefix(&mut app, &b).await);
    let mut b_owner = key_in(&s, &b, "owner").await;
    let item = get(&mut b_owner, &moved).await.unwrap();
    assert_eq!(item.organization_id, b);
    assert_eq!(module_versions(&item).len(), 1);
    assert_eq!(list(&mut app, in_org(&org)).await, ["taken"]);
    let unknown = TransferRegistryItemRequest {
        item_id: moved.clone(),
        new_public_namespace: "nobody".into(),
    };
    assert_status(
        b_owner.transfer_registry_item(unknown).await,
        Code::NotFound,
        "nobody",
    );
    // B's owner may not move it back into an organization it cannot write.
    let back = TransferRegistryItemRequest {
        item_id: moved.clone(),
        new_public_namespace: ns.clone(),
    };
    assert_status(
        b_owner.transfer_registry_item(back).await,
        Code::PermissionDenied,
        &org,
    );

    let req = DeleteRegistryItemRequest {
        item_id: moved.clone(),
    };
    b_owner.delete_registry_item(req).await.unwrap();
    assert_status(get(&mut b_owner, &moved).await, Code::NotFound, &moved);
    let module = GetModuleRequest {
        module_id: moved.clone(),
        include_markdown_documentation: None,
    };
    assert_status(b_owner.get_module(module).await, Code::NotFound, &moved);
    assert!(!file.exists(), "the deleted module's file is still on disk");
    // A new item of the old name starts clean: no deprecation carried over.
    create(&mut b_owner, &b, "new", MODULE).await.unwrap();
    assert!(
        get(&mut b_owner, &moved)
            .await
            .unwrap()
            .deprecated_status
            .is_none()
    );
}

#[tokio::test]
async fn another_organization_sees_public_items_only_and_changes_none() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let org = s.org_id().to_string();
    let ns = prefix(&mut app, &org).await;
    create(&mut app, &org, "secret", ML_MODEL).await.unwrap();
    create(&mut app, &org, "shared", ML_MODEL).await.unwrap();
    let req = UpdateRegistryItemRequest {
        item_id: format!("{ns}:shared"),
        r#type: ML_MODEL,
        description: "for all".into(),
        visibility: PUBLIC,
        ..UpdateRegistryItemRequest::default()
    };
    app.update_registry_item(req).await.unwrap();
    let b = second_org(&mut app).await;
    let mut other = key_in(&s, &b, "owner").await;
    assert_status(
        get(&mut other, &format!("{ns}:secret")).await,
        Code::PermissionDenied,
        "private",
    );
    assert_eq!(
        get(&mut other, &format!("{ns}:shared"))
            .await
            .unwrap()
            .description,
        "for all"
    );
    let all = list(&mut other, ListRegistryItemsRequest::default()).await;
    assert_eq!(all, ["shared"]);
    for r in [
        other
            .deprecate_registry_item(DeprecateRegistryItemRequest {
                item_id: format!("{ns}:shared"),
                message: "m".into(),
            })
            .await
            .map(|_| ()),
        other
            .delete_registry_item(DeleteRegistryItemRequest {
                item_id: format!("{ns}:shared"),
            })
            .await
            .map(|_| ()),
    ] {
        assert_status(r, Code::PermissionDenied, &org);
    }
    assert!(
        get(&mut app, &format!("{ns}:shared"))
            .await
            .unwrap()
            .deprecated_status
            .is_none()
    );
}
