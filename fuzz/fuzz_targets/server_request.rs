//! The server's request handling: the first byte picks a unary RPC (AppService, RobotService/
//! Log, AuthService/Authenticate), the rest is sent as its request body, as is, to a local
//! fleet started once in a temp dir, with the owner's token. Properties: the server never
//! panics and never answers INTERNAL/UNKNOWN to a request that decodes as the request type
//! (bytes that are not a protobuf message at all are the transport's business), and it keeps
//! serving.
#![no_main]

use std::sync::LazyLock;

use bytes::{Buf, BufMut};
use libfuzzer_sys::fuzz_target;
use prost_reflect::{DynamicMessage, MethodDescriptor};
use tonic::codec::{Codec, DecodeBuf, Decoder, EncodeBuf, Encoder};
use tonic::transport::Channel;
use tonic::{Code, Request, Status};

use fleetsh::proto::POOL;
use fleetsh::server::{RunningFleet, ServeOptions, start};

/// Sends raw bytes; receives raw bytes.
#[derive(Default)]
struct Raw;

impl Codec for Raw {
    type Encode = Vec<u8>;
    type Decode = Vec<u8>;
    type Encoder = Raw;
    type Decoder = Raw;
    fn encoder(&mut self) -> Raw {
        Raw
    }
    fn decoder(&mut self) -> Raw {
        Raw
    }
}

impl Encoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn encode(&mut self, item: Vec<u8>, dst: &mut EncodeBuf<'_>) -> Result<(), Status> {
        dst.put_slice(&item);
        Ok(())
    }
}

impl Decoder for Raw {
    type Item = Vec<u8>;
    type Error = Status;
    fn decode(&mut self, src: &mut DecodeBuf<'_>) -> Result<Option<Vec<u8>>, Status> {
        Ok(Some(src.copy_to_bytes(src.remaining()).to_vec()))
    }
}

struct Env {
    rt: tokio::runtime::Runtime,
    channel: Channel,
    token: String,
    methods: Vec<MethodDescriptor>,
    _fleet: RunningFleet,
    _dir: tempfile::TempDir,
}

static ENV: LazyLock<Env> = LazyLock::new(|| {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    let (fleet, channel, token) = rt.block_on(async {
        let mut opts = ServeOptions::new(dir.path());
        opts.listen = "127.0.0.1:0".parse().unwrap();
        let fleet = start(&opts).await.unwrap();
        let c = fleet.credentials.clone();
        let channel = Channel::from_shared(c.address.clone())
            .unwrap()
            .tcp_nodelay(true)
            .connect()
            .await
            .unwrap();
        let token = token_for(&channel, &c.api_key_id, &c.api_key).await;
        (fleet, channel, token)
    });
    let methods = [
        "viam.app.v1.AppService",
        "viam.app.v1.RobotService",
        "proto.rpc.v1.AuthService",
    ]
    .iter()
    .filter_map(|s| POOL.get_service_by_name(s))
    .flat_map(|s| s.methods().collect::<Vec<_>>())
    .filter(|m| !m.is_client_streaming() && !m.is_server_streaming())
    .collect();
    Env {
        rt,
        channel,
        token,
        methods,
        _fleet: fleet,
        _dir: dir,
    }
});

async fn unary(
    channel: &Channel,
    token: Option<&str>,
    m: &MethodDescriptor,
    body: Vec<u8>,
) -> Result<Vec<u8>, Status> {
    let mut grpc = tonic::client::Grpc::new(channel.clone());
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let mut req = Request::new(body);
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let path = format!("/{}/{}", m.parent_service().full_name(), m.name());
    grpc.unary(req, path.parse().unwrap(), Raw)
        .await
        .map(|r| r.into_inner())
}

async fn token_for(channel: &Channel, id: &str, key: &str) -> String {
    let m = POOL
        .get_service_by_name("proto.rpc.v1.AuthService")
        .unwrap()
        .methods()
        .next()
        .unwrap();
    let mut req = DynamicMessage::new(m.input());
    req.set_field_by_name("entity", prost_reflect::Value::String(id.into()));
    let mut creds = DynamicMessage::new(
        m.input()
            .get_field_by_name("credentials")
            .unwrap()
            .kind()
            .as_message()
            .unwrap()
            .clone(),
    );
    creds.set_field_by_name("type", prost_reflect::Value::String("api-key".into()));
    creds.set_field_by_name("payload", prost_reflect::Value::String(key.into()));
    req.set_field_by_name("credentials", prost_reflect::Value::Message(creds));
    let resp = unary(channel, None, &m, prost::Message::encode_to_vec(&req))
        .await
        .unwrap();
    let resp = DynamicMessage::decode(m.output(), resp.as_slice()).unwrap();
    resp.get_field_by_name("access_token")
        .unwrap()
        .as_str()
        .unwrap()
        .to_string()
}

fuzz_target!(|data: &[u8]| {
    let env = &*ENV;
    let Some((pick, body)) = data.split_first() else {
        return;
    };
    let m = &env.methods[*pick as usize % env.methods.len()];
    let decodes = DynamicMessage::decode(m.input(), body).is_ok();
    let token = (m.parent_service().name() != "AuthService").then_some(env.token.as_str());
    let r = env
        .rt
        .block_on(unary(&env.channel, token, m, body.to_vec()));
    if let Err(s) = &r {
        let bad = matches!(
            s.code(),
            Code::Internal | Code::Unknown | Code::Unavailable | Code::Cancelled
        );
        if bad && decodes {
            panic!("{} answered {:?}: {}", m.name(), s.code(), s.message());
        }
    }
    // Still serving.
    let probe = &env
        .methods
        .iter()
        .find(|m| m.name() == "ListOrganizations")
        .unwrap();
    env.rt
        .block_on(unary(&env.channel, Some(&env.token), probe, Vec::new()))
        .expect("the server stopped serving");
});
