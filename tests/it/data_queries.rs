//! Saved queries, custom indexes and signed URLs: saved pipelines come back
//! as stored and run by name in TabularDataByMQL; index specs are checked, listed per collection
//! and deleted by name; a signed URL is answered over plain HTTP by the fleet's own socket with
//! exactly the uploaded bytes, and an altered, expired or revoked token is refused. Another
//! organization's key is refused everywhere, and bad input is INVALID_ARGUMENT naming the field.
#![allow(deprecated)]

use bson::{Document, doc};
use fleetsh::proto::fleetsh::admin::v1::AdvanceClockRequest;
use fleetsh::proto::fleetsh::admin::v1::fleet_admin_service_client::FleetAdminServiceClient;
use fleetsh::proto::viam::app::data::v1::*;
use fleetsh::proto::viam::app::datasync::v1::*;
use fleetsh::proto::viam::app::v1::{CreateKeyRequest, CreateOrganizationRequest};
use tonic::Code;

use crate::data_api::{Data, Sync, data_client, new_part, readings_upload, sync_client};
use crate::harness::{App, Bearer, TestServer, assert_status};
use crate::keys::grant;

struct Fleet {
    s: TestServer,
    app: App,
    data: Data,
    sync: Sync,
    token: String,
    org: String,
    part: String,
}

async fn fleet() -> Fleet {
    let s = TestServer::start().await;
    let c = s.fleet.credentials.clone();
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let mut app = s.owner().await;
    let part = new_part(&mut app, &c.location_id, "q-bot").await;
    Fleet {
        data: data_client(&s.channel, &token),
        sync: sync_client(&s.channel, &token),
        token,
        org: c.org_id.clone(),
        app,
        part,
        s,
    }
}

fn enc(d: &Document) -> Vec<u8> {
    let mut v = Vec::new();
    d.to_writer(&mut v).unwrap();
    v
}

fn dec(b: &[u8]) -> Document {
    Document::from_reader(b).unwrap()
}

/// Readings of `temp` (20 at t=10, 30 at t=20) and `other` (99 at t=10).
async fn readings(f: &mut Fleet) {
    for (sensor, points) in [
        ("temp", vec![(10, 20.0), (20, 30.0)]),
        ("other", vec![(10, 99.0)]),
    ] {
        f.sync
            .data_capture_upload(readings_upload(&f.part, sensor, &points))
            .await
            .unwrap();
    }
}

async fn mql(
    data: &mut Data,
    org: &str,
    prefix: Option<&str>,
    stages: &[Document],
) -> Result<Vec<Document>, tonic::Status> {
    let r = data
        .tabular_data_by_mql(TabularDataByMqlRequest {
            organization_id: org.into(),
            mql_binary: stages.iter().map(enc).collect(),
            query_prefix_name: prefix.map(str::to_string),
            ..Default::default()
        })
        .await?;
    Ok(r.into_inner().raw_data.iter().map(|b| dec(b)).collect())
}

fn temps(rows: &[Document]) -> Vec<f64> {
    rows.iter()
        .map(|d| {
            let r = d.get_document("data").unwrap().get_document("readings");
            let v = r.unwrap().get("temp").unwrap();
            v.as_f64().or_else(|| v.as_i64().map(|i| i as f64)).unwrap()
        })
        .collect()
}

async fn save(f: &mut Fleet, name: &str, stages: &[Document]) -> Result<String, tonic::Status> {
    let r = f
        .data
        .create_saved_query(CreateSavedQueryRequest {
            organization_id: f.org.clone(),
            name: name.into(),
            mql_binary: stages.iter().map(enc).collect(),
        })
        .await?;
    Ok(r.into_inner().id)
}

async fn saved(data: &mut Data, id: &str) -> Result<Query, tonic::Status> {
    let r = data
        .get_saved_query(GetSavedQueryRequest { id: id.into() })
        .await?;
    Ok(r.into_inner().saved_query.unwrap())
}

async fn list_saved(data: &mut Data, org: &str, limit: i64) -> Result<Vec<Query>, tonic::Status> {
    let r = data
        .list_saved_queries(ListSavedQueriesRequest {
            organization_id: org.into(),
            limit,
        })
        .await?;
    Ok(r.into_inner().queries)
}

#[tokio::test]
async fn saved_queries_are_stored_as_sent_and_run_by_name_before_the_query() {
    let mut f = fleet().await;
    readings(&mut f).await;
    let newest = [
        doc! {"$match": {"component_name": "temp"}},
        doc! {"$sort": {"time_requested": -1}},
    ];
    let id = save(&mut f, "newest temps", &newest).await.unwrap();
    let q = saved(&mut f.data, &id).await.unwrap();
    assert_eq!(
        (q.id.as_str(), q.organization_id.as_str(), q.name.as_str()),
        (id.as_str(), f.org.as_str(), "newest temps")
    );
    let sent: Vec<Vec<u8>> = newest.iter().map(enc).collect();
    assert_eq!(q.mql_binary, sent, "the stages come back byte for byte");
    assert!(q.created_on.is_some() && q.created_on == q.updated_at);
    assert_status(
        save(&mut f, "newest temps", &[doc! {"$limit": 1}]).await,
        Code::AlreadyExists,
        "newest temps",
    );

    // The saved stages run first, then the request's own.
    let rows = mql(
        &mut f.data,
        &f.org,
        Some("newest temps"),
        &[doc! {"$limit": 1}],
    )
    .await
    .unwrap();
    assert_eq!(temps(&rows), [30.0]);
    let rows = mql(&mut f.data, &f.org, Some("newest temps"), &[])
        .await
        .unwrap();
    assert_eq!(temps(&rows), [30.0, 20.0]);
    assert_status(
        mql(&mut f.data, &f.org, Some("missing"), &[]).await,
        Code::NotFound,
        "\"missing\"",
    );

    // Update: a new name and pipeline; then a rename alone keeps the pipeline.
    let others = [doc! {"$match": {"component_name": "other"}}];
    f.data
        .update_saved_query(UpdateSavedQueryRequest {
            id: id.clone(),
            name: "others".into(),
            mql_binary: others.iter().map(enc).collect(),
        })
        .await
        .unwrap();
    let q = saved(&mut f.data, &id).await.unwrap();
    assert_eq!(q.name, "others");
    assert_eq!(q.mql_binary, vec![enc(&others[0])]);
    assert!(
        q.updated_at.unwrap().seconds * 1_000_000_000 + i64::from(q.updated_at.unwrap().nanos)
            > q.created_on.unwrap().seconds * 1_000_000_000
                + i64::from(q.created_on.unwrap().nanos)
    );
    let rows = mql(&mut f.data, &f.org, Some("others"), &[]).await.unwrap();
    assert_eq!(temps(&rows), [99.0]);
    assert_status(
        mql(&mut f.data, &f.org, Some("newest temps"), &[]).await,
        Code::NotFound,
        "newest temps",
    );
    f.data
        .update_saved_query(UpdateSavedQueryRequest {
            id: id.clone(),
            name: "renamed".into(),
            mql_binary: vec![],
        })
        .await
        .unwrap();
    let q = saved(&mut f.data, &id).await.unwrap();
    assert_eq!((q.name.as_str(), q.mql_binary.len()), ("renamed", 1));

    // List: oldest first, limited on request.
    let second = save(&mut f, "second", &[doc! {"$count": "n"}])
        .await
        .unwrap();
    let all = list_saved(&mut f.data, &f.org, 0).await.unwrap();
    let ids: Vec<&str> = all.iter().map(|q| q.id.as_str()).collect();
    assert_eq!(ids, [id.as_str(), second.as_str()]);
    assert_eq!(all[1].mql_binary, vec![enc(&doc! {"$count": "n"})]);
    assert_eq!(list_saved(&mut f.data, &f.org, 1).await.unwrap().len(), 1);

    // Delete.
    f.data
        .delete_saved_query(DeleteSavedQueryRequest { id: id.clone() })
        .await
        .unwrap();
    assert_status(saved(&mut f.data, &id).await, Code::NotFound, &id);
    assert_status(
        f.data
            .delete_saved_query(DeleteSavedQueryRequest { id: id.clone() })
            .await,
        Code::NotFound,
        &id,
    );
    let left = list_saved(&mut f.data, &f.org, 0).await.unwrap();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].id, second);
}

#[tokio::test]
async fn bad_saved_queries_are_refused_by_field() {
    let mut f = fleet().await;
    let raw = |stages: Vec<Vec<u8>>| CreateSavedQueryRequest {
        organization_id: f.org.clone(),
        name: "q".into(),
        mql_binary: stages,
    };
    let mut trailing = enc(&doc! {"$limit": 1});
    trailing.extend_from_slice(b"junk");
    for (stages, needle) in [
        (vec![], "mql_binary: required"),
        (vec![b"not bson".to_vec()], "not a BSON document"),
        (
            vec![enc(&doc! {"$limit": 1, "$skip": 1})],
            "exactly one key",
        ),
        (vec![enc(&doc! {"limit": 1})], "must start with $"),
        (vec![trailing], "bytes after its BSON document"),
    ] {
        let r = f.data.create_saved_query(raw(stages)).await;
        assert_status(r, Code::InvalidArgument, needle);
    }
    let mut unnamed = raw(vec![enc(&doc! {"$limit": 1})]);
    unnamed.name = " ".into();
    assert_status(
        f.data.create_saved_query(unnamed).await,
        Code::InvalidArgument,
        "name: required",
    );
    assert_status(
        list_saved(&mut f.data, &f.org, -1).await,
        Code::InvalidArgument,
        "limit",
    );
    let id = save(&mut f, "q", &[doc! {"$limit": 1}]).await.unwrap();
    assert_status(
        f.data
            .update_saved_query(UpdateSavedQueryRequest {
                id: id.clone(),
                ..Default::default()
            })
            .await,
        Code::InvalidArgument,
        "nothing to change",
    );
    save(&mut f, "taken", &[doc! {"$limit": 1}]).await.unwrap();
    assert_status(
        f.data
            .update_saved_query(UpdateSavedQueryRequest {
                id: id.clone(),
                name: "taken".into(),
                mql_binary: vec![],
            })
            .await,
        Code::AlreadyExists,
        "taken",
    );
    assert_status(
        saved(&mut f.data, "../etc/passwd").await,
        Code::NotFound,
        "../etc/passwd",
    );
}

const HOT: IndexableCollection = IndexableCollection::HotStore;
const SINK: IndexableCollection = IndexableCollection::PipelineSink;

async fn create_index(
    f: &mut Fleet,
    kind: IndexableCollection,
    pipeline: Option<&str>,
    spec: Vec<Vec<u8>>,
) -> Result<(), tonic::Status> {
    f.data
        .create_index(CreateIndexRequest {
            organization_id: f.org.clone(),
            collection_type: kind as i32,
            pipeline_name: pipeline.map(str::to_string),
            index_spec: spec,
        })
        .await
        .map(|_| ())
}

async fn indexes(
    data: &mut Data,
    org: &str,
    kind: IndexableCollection,
    pipeline: Option<&str>,
) -> Result<Vec<Index>, tonic::Status> {
    let r = data
        .list_indexes(ListIndexesRequest {
            organization_id: org.into(),
            collection_type: kind as i32,
            pipeline_name: pipeline.map(str::to_string),
        })
        .await?;
    Ok(r.into_inner().indexes)
}

async fn delete_index(
    f: &mut Fleet,
    kind: IndexableCollection,
    pipeline: Option<&str>,
    name: &str,
) -> Result<(), tonic::Status> {
    f.data
        .delete_index(DeleteIndexRequest {
            organization_id: f.org.clone(),
            collection_type: kind as i32,
            pipeline_name: pipeline.map(str::to_string),
            index_name: name.into(),
        })
        .await
        .map(|_| ())
}

fn names(ixs: &[Index]) -> Vec<&str> {
    ixs.iter().map(|i| i.index_name.as_str()).collect()
}

#[tokio::test]
async fn indexes_are_recorded_per_collection_listed_and_deleted_by_name() {
    let mut f = fleet().await;
    // The Python SDK's form: one BSON document; the name is MongoDB's default.
    let sdk = vec![enc(&doc! {"key": {"data.readings.temp": 1}})];
    create_index(&mut f, HOT, None, sdk.clone()).await.unwrap();
    // The Go CLI's form: the key and the options as JSON.
    let cli = vec![
        br#"{"component_name": 1, "time_received": -1}"#.to_vec(),
        br#"{"name": "by_component", "unique": false}"#.to_vec(),
    ];
    create_index(&mut f, HOT, None, cli.clone()).await.unwrap();
    let sink = vec![enc(&doc! {"robot_id": 1})];
    create_index(&mut f, SINK, Some("hourly"), sink.clone())
        .await
        .unwrap();

    let hot = indexes(&mut f.data, &f.org, HOT, None).await.unwrap();
    assert_eq!(names(&hot), ["data.readings.temp_1", "by_component"]);
    assert_eq!(hot[0].index_spec, sdk, "the spec comes back as sent");
    assert_eq!(hot[1].index_spec, cli);
    assert!(
        hot.iter()
            .all(|i| i.created_by == IndexCreator::Customer as i32
                && i.collection_type == HOT as i32
                && i.pipeline_name.is_none())
    );
    let on_sink = indexes(&mut f.data, &f.org, SINK, Some("hourly"))
        .await
        .unwrap();
    assert_eq!(names(&on_sink), ["robot_id_1"]);
    assert_eq!(on_sink[0].pipeline_name.as_deref(), Some("hourly"));
    assert!(
        indexes(&mut f.data, &f.org, SINK, Some("daily"))
            .await
            .unwrap()
            .is_empty(),
        "another pipeline's sink has none"
    );

    // A name is unique per collection, not per organization.
    assert_status(
        create_index(
            &mut f,
            HOT,
            None,
            vec![
                enc(&doc! {"data.readings.temp": -1}),
                enc(&doc! {"name": "by_component"}),
            ],
        )
        .await,
        Code::AlreadyExists,
        "by_component",
    );
    create_index(&mut f, SINK, Some("hourly"), cli.clone())
        .await
        .unwrap();

    delete_index(&mut f, HOT, None, "by_component")
        .await
        .unwrap();
    let hot = indexes(&mut f.data, &f.org, HOT, None).await.unwrap();
    assert_eq!(names(&hot), ["data.readings.temp_1"]);
    assert_status(
        delete_index(&mut f, HOT, None, "by_component").await,
        Code::NotFound,
        "by_component",
    );
    let on_sink = indexes(&mut f.data, &f.org, SINK, Some("hourly"))
        .await
        .unwrap();
    assert_eq!(
        names(&on_sink),
        ["robot_id_1", "by_component"],
        "the sink's stays"
    );
}

#[tokio::test]
async fn bad_index_requests_are_refused_by_field() {
    let mut f = fleet().await;
    let ok_spec = || vec![enc(&doc! {"a": 1})];
    for (kind, pipeline, needle) in [
        (
            IndexableCollection::Unspecified,
            None,
            "collection_type: required",
        ),
        (HOT, Some("p"), "pipeline_name: only for"),
        (SINK, None, "pipeline_name: required"),
    ] {
        assert_status(
            create_index(&mut f, kind, pipeline, ok_spec()).await,
            Code::InvalidArgument,
            needle,
        );
        assert_status(
            indexes(&mut f.data, &f.org.clone(), kind, pipeline).await,
            Code::InvalidArgument,
            needle,
        );
    }
    for (spec, needle) in [
        (vec![], "index_spec: required"),
        (
            vec![b"{nope".to_vec()],
            "neither a BSON document nor a JSON object",
        ),
        (vec![enc(&doc! {})], "names no field"),
        (vec![enc(&doc! {"a": 2})], "not an index direction"),
        (
            vec![enc(&doc! {"a": 1}), enc(&doc! {"colour": "red"})],
            "unknown option \"colour\"",
        ),
        (
            vec![enc(&doc! {"a": 1}), enc(&doc! {"name": "_id_"})],
            "_id_",
        ),
    ] {
        assert_status(
            create_index(&mut f, HOT, None, spec).await,
            Code::InvalidArgument,
            needle,
        );
    }
    let r = f
        .data
        .create_index(CreateIndexRequest {
            organization_id: f.org.clone(),
            collection_type: 7,
            pipeline_name: None,
            index_spec: ok_spec(),
        })
        .await;
    assert_status(r, Code::InvalidArgument, "unknown collection type 7");
    assert_status(
        delete_index(&mut f, HOT, None, "").await,
        Code::InvalidArgument,
        "index_name: required",
    );
    assert!(
        indexes(&mut f.data, &f.org.clone(), HOT, None)
            .await
            .unwrap()
            .is_empty()
    );
}

/// A binary upload of `bytes` with `mime`; its id.
async fn upload_binary(f: &mut Fleet, bytes: &[u8], mime: &str) -> String {
    f.sync
        .data_capture_upload(DataCaptureUploadRequest {
            metadata: Some(UploadMetadata {
                part_id: f.part.clone(),
                component_type: "rdk:component:camera".into(),
                component_name: "cam".into(),
                method_name: "GetImages".into(),
                r#type: DataType::BinarySensor as i32,
                mime_type: mime.into(),
                file_extension: ".png".into(),
                ..Default::default()
            }),
            sensor_contents: vec![SensorData {
                metadata: None,
                data: Some(sensor_data::Data::Binary(bytes.to_vec())),
            }],
        })
        .await
        .unwrap()
        .into_inner()
        .binary_data_id
}

async fn sign(
    data: &mut Data,
    id: &str,
    minutes: Option<u32>,
) -> Result<CreateBinaryDataSignedUrlResponse, tonic::Status> {
    let r = data
        .create_binary_data_signed_url(CreateBinaryDataSignedUrlRequest {
            binary_data_id: id.into(),
            expiration_minutes: minutes,
        })
        .await?;
    Ok(r.into_inner())
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder().build().unwrap()
}

async fn get(url: &str) -> (u16, Option<String>, Vec<u8>) {
    let r = http().get(url).send().await.unwrap();
    let status = r.status().as_u16();
    let ct = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_string());
    (status, ct, r.bytes().await.unwrap().to_vec())
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[tokio::test]
async fn a_signed_url_serves_exactly_the_uploaded_bytes_over_plain_http_until_it_expires() {
    let mut f = fleet().await;
    // Several body frames' worth, with every byte value.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 256) as u8).collect();
    let id = upload_binary(&mut f, &bytes, "image/png").await;
    let signed = sign(&mut f.data, &id, None).await.unwrap();
    let base = format!("{}/signed-url/", f.s.fleet.credentials.address);
    assert!(
        signed.signed_url.starts_with(&base),
        "{}",
        signed.signed_url
    );
    let token = &signed.signed_url[base.len()..];
    assert!(token.len() >= 40 && token.chars().all(|c| c.is_ascii_alphanumeric()));
    let expires = signed.expires_at.unwrap().seconds;
    assert!(
        (expires - (now_secs() + 15 * 60)).abs() <= 5,
        "15 minutes by default"
    );

    let (status, ct, body) = get(&signed.signed_url).await;
    assert_eq!((status, ct.as_deref()), (200, Some("image/png")));
    assert!(
        body == bytes,
        "{} bytes served for {}",
        body.len(),
        bytes.len()
    );
    // A page's fetch (an Origin, CORS in front) gets the same.
    let r = http()
        .get(&signed.signed_url)
        .header("origin", "http://localhost:5173")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(r.bytes().await.unwrap().len(), bytes.len());
    // HEAD: the headers, no body.
    let r = http().head(&signed.signed_url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(
        r.headers()["content-length"],
        bytes.len().to_string().as_str()
    );

    // An altered token, a truncated one, a path, another method: refused.
    let last = token.chars().last().unwrap();
    let altered = format!(
        "{base}{}{}",
        &token[..token.len() - 1],
        if last == 'a' { 'b' } else { 'a' }
    );
    let (status, _, body) = get(&altered).await;
    assert_eq!(status, 403, "{}", String::from_utf8_lossy(&body));
    assert!(String::from_utf8_lossy(&body).contains("not valid or has expired"));
    for bad in [
        format!("{base}{}", &token[..10]),
        format!("{base}{token}/fleet.db"),
        format!("{base}..%2F..%2Ffleet.db"),
        base.clone(),
    ] {
        assert_eq!(get(&bad).await.0, 403, "{bad}");
    }
    // A `..` the client resolves leaves the signed-URL space: no file is served there either.
    let (status, _, body) = get(&format!("{base}../../fleet.db")).await;
    assert!(status >= 400 && !body.starts_with(b"SQLite"), "{status}");
    let r = http().post(&signed.signed_url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 405);
    // No bearer token is needed, and a token in the URL is no key to the API.
    let mut with_url_token = data_client(&f.s.channel, token);
    assert_eq!(
        sign(&mut with_url_token, &id, None)
            .await
            .unwrap_err()
            .code(),
        Code::Unauthenticated
    );

    // Expiry: a 1-minute URL works now and not once two minutes have passed.
    let short = sign(&mut f.data, &id, Some(1)).await.unwrap();
    assert!((short.expires_at.unwrap().seconds - (now_secs() + 60)).abs() <= 5);
    assert_eq!(get(&short.signed_url).await.0, 200);
    let week = sign(&mut f.data, &id, Some(10_080)).await.unwrap();
    let header = format!("Bearer {}", f.token).parse().unwrap();
    FleetAdminServiceClient::with_interceptor(f.s.channel.clone(), Bearer(Some(header)))
        .advance_clock(AdvanceClockRequest { by: "2m".into() })
        .await
        .unwrap();
    assert_eq!(get(&short.signed_url).await.0, 403, "expired");
    assert_eq!(
        get(&signed.signed_url).await.0,
        200,
        "15 minutes are not over"
    );

    // Deleted binary data takes its URLs with it.
    f.data
        .delete_binary_data_by_i_ds(DeleteBinaryDataByIDsRequest {
            binary_data_ids: vec![id.clone()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(get(&week.signed_url).await.0, 403);
    assert_status(sign(&mut f.data, &id, None).await, Code::NotFound, &id);
}

#[tokio::test]
async fn signed_url_requests_are_checked() {
    let mut f = fleet().await;
    let id = upload_binary(&mut f, b"x", "").await;
    for m in [0, 10_081] {
        assert_status(
            sign(&mut f.data, &id, Some(m)).await,
            Code::InvalidArgument,
            "expiration_minutes",
        );
    }
    assert_status(
        sign(&mut f.data, "", None).await,
        Code::InvalidArgument,
        "binary_data_id",
    );
    assert_status(
        sign(&mut f.data, "../../fleet.db", None).await,
        Code::NotFound,
        "../../fleet.db",
    );
    // No stored type: served as bytes.
    let url = sign(&mut f.data, &id, None).await.unwrap().signed_url;
    let (status, ct, body) = get(&url).await;
    assert_eq!(
        (status, ct.as_deref(), body.as_slice()),
        (200, Some("application/octet-stream"), &b"x"[..])
    );
}

#[tokio::test]
async fn another_organization_is_refused_and_operators_only_read() {
    let mut f = fleet().await;
    readings(&mut f).await;
    let id = save(&mut f, "mine", &[doc! {"$limit": 1}]).await.unwrap();
    create_index(&mut f, HOT, None, vec![enc(&doc! {"a": 1})])
        .await
        .unwrap();
    let bin = upload_binary(&mut f, b"img", "image/png").await;
    let other_org = f
        .app
        .create_organization(CreateOrganizationRequest { name: "B".into() })
        .await
        .unwrap()
        .into_inner()
        .organization
        .unwrap()
        .id;
    let token_for = async |app: &mut App, org: &str, role: &str| {
        let k = app
            .create_key(CreateKeyRequest {
                authorizations: vec![grant(org, role, "organization", org)],
                name: "k".into(),
            })
            .await
            .unwrap()
            .into_inner();
        f.s.token(&k.id, &k.key).await.unwrap()
    };
    let b_token = token_for(&mut f.app, &other_org, "owner").await;
    let op_token = token_for(&mut f.app, &f.org, "operator").await;
    let mut b = data_client(&f.s.channel, &b_token);
    let mut op = data_client(&f.s.channel, &op_token);
    let org = f.org.clone();
    let create = |name: &str| CreateSavedQueryRequest {
        organization_id: org.clone(),
        name: name.into(),
        mql_binary: vec![enc(&doc! {"$limit": 1})],
    };
    let index_req = || CreateIndexRequest {
        organization_id: org.clone(),
        collection_type: HOT as i32,
        pipeline_name: None,
        index_spec: vec![enc(&doc! {"b": 1})],
    };
    let drop_req = || DeleteIndexRequest {
        organization_id: org.clone(),
        collection_type: HOT as i32,
        pipeline_name: None,
        index_name: "a_1".into(),
    };
    for who in [&mut b, &mut op] {
        assert_status(
            who.create_saved_query(create("theirs")).await,
            Code::PermissionDenied,
            "write_data_management",
        );
        let upd = UpdateSavedQueryRequest {
            id: id.clone(),
            name: "x".into(),
            mql_binary: vec![],
        };
        assert_status(
            who.update_saved_query(upd).await,
            Code::PermissionDenied,
            "write_data_management",
        );
        assert_status(
            who.delete_saved_query(DeleteSavedQueryRequest { id: id.clone() })
                .await,
            Code::PermissionDenied,
            "write_data_management",
        );
        assert_status(
            who.create_index(index_req()).await,
            Code::PermissionDenied,
            "write_data_management",
        );
        assert_status(
            who.delete_index(drop_req()).await,
            Code::PermissionDenied,
            "write_data_management",
        );
    }
    // B reads nothing of A's: not the queries, not the indexes, not a URL of its data, and it
    // cannot run A's saved query by name.
    assert_status(saved(&mut b, &id).await, Code::PermissionDenied, &id);
    assert_status(
        list_saved(&mut b, &f.org, 0).await,
        Code::PermissionDenied,
        &f.org,
    );
    assert_status(
        indexes(&mut b, &f.org, HOT, None).await,
        Code::PermissionDenied,
        &f.org,
    );
    assert_status(sign(&mut b, &bin, None).await, Code::PermissionDenied, &bin);
    assert_status(
        mql(&mut b, &f.org, Some("mine"), &[]).await,
        Code::PermissionDenied,
        &f.org,
    );
    // Nor does its own organization find A's saved query by name.
    assert_status(
        mql(&mut b, &other_org, Some("mine"), &[]).await,
        Code::NotFound,
        "mine",
    );
    // An operator of A reads all of it.
    assert_eq!(saved(&mut op, &id).await.unwrap().name, "mine");
    assert_eq!(list_saved(&mut op, &f.org, 0).await.unwrap().len(), 1);
    assert_eq!(
        names(&indexes(&mut op, &f.org, HOT, None).await.unwrap()),
        ["a_1"]
    );
    let url = sign(&mut op, &bin, None).await.unwrap().signed_url;
    assert_eq!(get(&url).await.2, b"img");
    assert_eq!(
        temps(&mql(&mut op, &f.org, Some("mine"), &[]).await.unwrap()).len(),
        1
    );
    // And nothing changed.
    assert_eq!(saved(&mut f.data, &id).await.unwrap().name, "mine");
    assert_eq!(
        names(&indexes(&mut f.data, &f.org, HOT, None).await.unwrap()),
        ["a_1"]
    );
}

/// With `--tls-cert`, the URL is https:// on the same socket, and a TLS client (HTTP/1.1 over
/// the fleet's own ALPN) fetches the bytes.
#[tokio::test]
async fn a_signed_url_of_a_tls_fleet_is_https_on_its_socket() {
    use fleetsh::proto::viam::app::v1::app_service_client::AppServiceClient;
    use tonic::transport::{Certificate, Channel, ClientTlsConfig};
    const TLS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tls");
    let dir = tempfile::tempdir().unwrap();
    let mut opts = fleetsh::server::ServeOptions::new(dir.path());
    opts.listen = "127.0.0.1:0".parse().unwrap();
    opts.tls_cert = Some(format!("{TLS}/server.pem").into());
    opts.tls_key = Some(format!("{TLS}/server.key").into());
    let fleet = fleetsh::server::start(&opts).await.unwrap();
    let ca_pem = std::fs::read(format!("{TLS}/ca.pem")).unwrap();
    let tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(&ca_pem));
    let channel = Channel::from_shared(fleet.credentials.address.clone())
        .unwrap()
        .tls_config(tls)
        .unwrap()
        .connect()
        .await
        .unwrap();
    let c = fleet.credentials.clone();
    let token = crate::setup::token_on(&channel, &c.api_key_id, &c.api_key).await;
    let header = format!("Bearer {token}").parse().unwrap();
    let mut app = AppServiceClient::with_interceptor(channel.clone(), Bearer(Some(header)));
    let part = new_part(&mut app, &c.location_id, "tls-bot").await;
    let mut sync = sync_client(&channel, &token);
    let id = sync
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
                data: Some(sensor_data::Data::Binary(b"over tls".to_vec())),
            }],
        })
        .await
        .unwrap()
        .into_inner()
        .binary_data_id;
    let url = sign(&mut data_client(&channel, &token), &id, None)
        .await
        .unwrap()
        .signed_url;
    assert!(
        url.starts_with(&format!("https://{}/signed-url/", fleet.addr)),
        "{url}"
    );
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .tls_certs_only([reqwest::Certificate::from_pem(&ca_pem).unwrap()])
        .build()
        .unwrap();
    let r = client.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 200);
    assert_eq!(&r.bytes().await.unwrap()[..], b"over tls");
    fleet.stop().await.unwrap();
}
