use fleetsh::proto::viam::app::v1::*;
use fleetsh::server::store::from_ts;
use prost_types::value::Kind;
use tonic::Code;

use crate::harness::{App, TestServer, assert_status};
use crate::setup::{key_in, second_org};

const PRIVATE: i32 = FragmentVisibility::Private as i32;
const PUBLIC: i32 = FragmentVisibility::Public as i32;
const UNLISTED: i32 = FragmentVisibility::PublicUnlisted as i32;

async fn create(app: &mut App, org: &str, name: &str, visibility: Option<i32>) -> Fragment {
    let req = CreateFragmentRequest {
        name: name.into(),
        config: None,
        organization_id: org.into(),
        visibility,
    };
    app.create_fragment(req)
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap()
}

fn update(id: &str, name: &str) -> UpdateFragmentRequest {
    UpdateFragmentRequest {
        id: id.into(),
        name: name.into(),
        ..Default::default()
    }
}

fn config() -> prost_types::Struct {
    let v = |k: Kind| prost_types::Value { kind: Some(k) };
    let inner = prost_types::Struct {
        fields: [("port".to_string(), v(Kind::NumberValue(8080.5)))].into(),
    };
    prost_types::Struct {
        fields: [
            ("name".to_string(), v(Kind::StringValue("arm".into()))),
            ("on".to_string(), v(Kind::BoolValue(true))),
            ("none".to_string(), v(Kind::NullValue(0))),
            (
                "list".to_string(),
                v(Kind::ListValue(prost_types::ListValue {
                    values: vec![v(Kind::StructValue(inner))],
                })),
            ),
        ]
        .into(),
    }
}

async fn get(app: &mut App, id: &str) -> Result<Fragment, tonic::Status> {
    let req = GetFragmentRequest {
        id: id.into(),
        ..Default::default()
    };
    app.get_fragment(req)
        .await
        .map(|r| r.into_inner().fragment.unwrap())
}

#[tokio::test]
async fn fragments_are_created_updated_and_deleted_with_their_config() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let req = CreateFragmentRequest {
        name: "base".into(),
        config: Some(config()),
        organization_id: s.org_id().into(),
        visibility: None,
    };
    let f = app
        .create_fragment(req)
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap();
    assert_eq!(
        (f.visibility, f.public, f.revision.as_str()),
        (PRIVATE, false, "1")
    );
    assert_eq!(f.organization_owner, s.org_id());
    assert!(!f.organization_name.is_empty());
    assert!(f.created_on.is_some() && f.created_on == f.last_updated);
    let got = get(&mut app, &f.id).await.unwrap();
    assert_eq!(got.fragment, Some(config()), "config round-trips");

    // An unset config keeps the config; every update bumps the revision.
    let u = app
        .update_fragment(update(&f.id, "renamed"))
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap();
    assert_eq!(
        (u.name.as_str(), u.revision.as_str(), u.fragment.clone()),
        ("renamed", "2", Some(config()))
    );
    assert!(from_ts(&u.last_updated.unwrap()) > from_ts(&f.last_updated.unwrap()));

    // JSON config: parsed into the Struct and echoed verbatim.
    let json = r#"{"components": [{"name": "cam"}], "n": 3}"#;
    let req = UpdateFragmentRequest {
        fragment_config_json: Some(json.into()),
        ..update(&f.id, "renamed")
    };
    let j = app
        .update_fragment(req)
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap();
    assert_eq!(j.fragment_config_json.as_deref(), Some(json));
    let cfg = j.fragment.unwrap();
    assert_eq!(cfg.fields["n"].kind, Some(Kind::NumberValue(3.0)));
    assert!(matches!(
        cfg.fields["components"].kind,
        Some(Kind::ListValue(_))
    ));
    let req = UpdateFragmentRequest {
        fragment_config_json: Some("{nope".into()),
        ..update(&f.id, "x")
    };
    assert_status(
        app.update_fragment(req).await,
        Code::InvalidArgument,
        "fragment_config_json",
    );

    // last_known_update: a stale one is refused, the current one accepted.
    let stale = UpdateFragmentRequest {
        last_known_update: u.last_updated,
        ..update(&f.id, "x")
    };
    assert_status(
        app.update_fragment(stale).await,
        Code::FailedPrecondition,
        "last_known_update",
    );
    let fresh = UpdateFragmentRequest {
        last_known_update: j.last_updated,
        config: Some(config()),
        ..update(&f.id, "x")
    };
    let x = app
        .update_fragment(fresh)
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap();
    assert_eq!(
        (x.revision.as_str(), x.fragment_config_json.as_deref()),
        ("4", None),
        "a Struct config drops the JSON"
    );

    // Visibility: `public` maps to PUBLIC/PRIVATE, `visibility` wins over it.
    let p = app
        .update_fragment(UpdateFragmentRequest {
            public: Some(true),
            ..update(&f.id, "x")
        })
        .await
        .unwrap();
    assert_eq!(
        p.into_inner().fragment.map(|f| (f.visibility, f.public)),
        Some((PUBLIC, true))
    );
    let req = UpdateFragmentRequest {
        public: Some(false),
        visibility: Some(UNLISTED),
        ..update(&f.id, "x")
    };
    let v = app
        .update_fragment(req)
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap();
    assert_eq!((v.visibility, v.public), (UNLISTED, false));
    let req = UpdateFragmentRequest {
        visibility: Some(9),
        ..update(&f.id, "x")
    };
    assert_status(
        app.update_fragment(req).await,
        Code::InvalidArgument,
        "visibility",
    );
    assert_status(
        app.update_fragment(update(&f.id, " ")).await,
        Code::InvalidArgument,
        "name",
    );

    // Every revision is kept (machines_api.rs tests them); one never made is not found.
    let req = GetFragmentRequest {
        id: f.id.clone(),
        version: Some("99".into()),
        ..Default::default()
    };
    assert_status(app.get_fragment(req).await, Code::NotFound, "revision");

    app.delete_fragment(DeleteFragmentRequest { id: f.id.clone() })
        .await
        .unwrap();
    assert_status(get(&mut app, &f.id).await, Code::NotFound, &f.id);
    assert_status(
        app.delete_fragment(DeleteFragmentRequest { id: f.id.clone() })
            .await,
        Code::NotFound,
        "fragment",
    );
    assert_status(
        app.update_fragment(update(&f.id, "x")).await,
        Code::NotFound,
        "fragment",
    );
}

#[tokio::test]
async fn create_fragment_validates_its_input() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let req = |name: &str, org: &str, visibility| CreateFragmentRequest {
        name: name.into(),
        config: None,
        organization_id: org.into(),
        visibility,
    };
    assert_status(
        app.create_fragment(req("", s.org_id(), None)).await,
        Code::InvalidArgument,
        "name",
    );
    assert_status(
        app.create_fragment(req("f", "nope", None)).await,
        Code::NotFound,
        "nope",
    );
    assert_status(
        app.create_fragment(req("f", s.org_id(), Some(7))).await,
        Code::InvalidArgument,
        "visibility",
    );
    let f = app
        .create_fragment(req("f", s.org_id(), Some(UNLISTED)))
        .await
        .unwrap()
        .into_inner()
        .fragment
        .unwrap();
    assert_eq!(f.visibility, UNLISTED);
    assert_eq!(f.fragment, Some(prost_types::Struct::default()));
}

fn names(list: Vec<Fragment>) -> Vec<String> {
    let mut v: Vec<String> = list.into_iter().map(|f| f.name).collect();
    v.sort();
    v
}

/// The API guide: `show_public` true lists public fragments only, false private ones only;
/// `fragment_visibility` (the SDK's `visibilities`) supersedes it.
#[tokio::test]
async fn lists_follow_show_public_and_visibilities() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let (a, b) = (s.org_id().to_string(), second_org(&mut app).await);
    create(&mut app, &a, "a-private", None).await;
    create(&mut app, &a, "a-public", Some(PUBLIC)).await;
    create(&mut app, &a, "a-unlisted", Some(UNLISTED)).await;
    create(&mut app, &b, "b-private", Some(PRIVATE)).await;
    create(&mut app, &b, "b-public", Some(PUBLIC)).await;
    create(&mut app, &b, "b-unlisted", Some(UNLISTED)).await;

    let list = |org: &str, show_public: bool, vis: Vec<i32>| ListFragmentsRequest {
        organization_id: org.to_string(),
        show_public,
        fragment_visibility: vis,
    };
    let mut run = async |req| {
        names(
            app.list_fragments(req)
                .await
                .unwrap()
                .into_inner()
                .fragments,
        )
    };
    assert_eq!(
        run(list(&a, false, vec![])).await,
        ["a-private"],
        "show_public false: the organization's private fragments only"
    );
    assert_eq!(
        run(list(&a, true, vec![])).await,
        ["a-public", "a-unlisted", "b-public"],
        "show_public true: public fragments only, never another organization's unlisted ones"
    );
    assert_eq!(run(list(&b, false, vec![])).await, ["b-private"]);
    assert_eq!(
        run(list(&b, true, vec![])).await,
        ["a-public", "b-public", "b-unlisted"]
    );
    assert_eq!(
        run(list(&a, false, vec![PUBLIC])).await,
        ["a-public", "b-public"]
    );
    assert_eq!(
        run(list(&a, true, vec![PRIVATE])).await,
        ["a-private"],
        "visibilities win over show_public"
    );
    assert_eq!(
        run(list(&a, false, vec![UNLISTED, PUBLIC])).await,
        ["a-public", "a-unlisted", "b-public"]
    );
    let list = |show_public: bool, vis: Vec<i32>| list(&a, show_public, vis);
    assert_status(
        app.list_fragments(list(false, vec![5])).await,
        Code::InvalidArgument,
        "fragment_visibility",
    );
    let req = ListFragmentsRequest {
        organization_id: "nope".into(),
        ..Default::default()
    };
    assert_status(app.list_fragments(req).await, Code::NotFound, "nope");
}

#[tokio::test]
async fn other_organizations_read_only_public_fragments_and_write_none() {
    let s = TestServer::start().await;
    let mut owner = s.owner().await;
    let (a, b) = (s.org_id().to_string(), second_org(&mut owner).await);
    let private = create(&mut owner, &b, "b-private", None).await;
    let public = create(&mut owner, &b, "b-public", Some(PUBLIC)).await;
    let unlisted = create(&mut owner, &b, "b-unlisted", Some(UNLISTED)).await;
    let own = create(&mut owner, &a, "a-private", None).await;

    let mut only_a = key_in(&s, &a, "owner").await;
    assert_eq!(
        get(&mut only_a, &public.id).await.unwrap().fragment,
        Some(prost_types::Struct::default())
    );
    get(&mut only_a, &unlisted.id).await.unwrap();
    get(&mut only_a, &own.id).await.unwrap();
    assert_status(
        get(&mut only_a, &private.id).await,
        Code::PermissionDenied,
        "private",
    );
    let req = ListFragmentsRequest {
        organization_id: b.clone(),
        show_public: true,
        fragment_visibility: vec![],
    };
    assert_status(
        only_a.list_fragments(req).await,
        Code::PermissionDenied,
        "read_fragment",
    );
    assert_status(
        only_a.update_fragment(update(&public.id, "mine")).await,
        Code::PermissionDenied,
        "write_fragment",
    );
    let del = DeleteFragmentRequest {
        id: public.id.clone(),
    };
    assert_status(
        only_a.delete_fragment(del).await,
        Code::PermissionDenied,
        "write_fragment",
    );
    assert_status(
        only_a
            .create_fragment(CreateFragmentRequest {
                name: "x".into(),
                config: None,
                organization_id: b.clone(),
                visibility: None,
            })
            .await,
        Code::PermissionDenied,
        "write_fragment",
    );

    // Operators read but do not write.
    let mut operator = key_in(&s, &a, "operator").await;
    get(&mut operator, &own.id).await.unwrap();
    assert_status(
        operator.update_fragment(update(&own.id, "x")).await,
        Code::PermissionDenied,
        "write_fragment",
    );
}
