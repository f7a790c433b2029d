//! Calls any method of the descriptor pool by name with a `DynamicMessage` built from JSON, so
//! that a test can cover every RPC from one table (bad input, the permission matrix).

use prost_reflect::{DynamicMessage, MethodDescriptor};
use tonic::client::Grpc;
use tonic::transport::Channel;
use tonic::{Request, Status};

use fleetsh::client::codec::DynCodec;
use fleetsh::proto::POOL;

/// `service` is the short name ("AppService", "RobotService", "AuthService").
pub fn method(service: &str, name: &str) -> MethodDescriptor {
    POOL.services()
        .find(|s| s.name() == service)
        .and_then(|s| s.methods().find(|m| m.name() == name))
        .unwrap_or_else(|| panic!("no method {service}/{name} in the descriptor pool"))
}

/// Every unary method of the app API, plus RobotService/Log and AuthService/Authenticate.
pub fn unary_methods() -> Vec<MethodDescriptor> {
    ["AppService", "RobotService", "AuthService"]
        .iter()
        .filter_map(|s| POOL.services().find(|d| d.name() == *s))
        .flat_map(|s| s.methods().collect::<Vec<_>>())
        .filter(|m| !m.is_client_streaming() && !m.is_server_streaming())
        .collect()
}

/// The request message of `m` from proto3 JSON (field names as in the .proto).
pub fn request(m: &MethodDescriptor, json: &serde_json::Value) -> DynamicMessage {
    DynamicMessage::deserialize(m.input(), json.clone())
        .unwrap_or_else(|e| panic!("{} request {json}: {e}", m.name()))
}

/// Where a test's calls go: tonic's gRPC channel, or gRPC-web over HTTP/1.1 (the TypeScript
/// SDK's and browsers' protocol); the same calls must get the same answers over both.
#[derive(Clone)]
pub enum Conn {
    Grpc(Channel),
    Web(Box<crate::web_client::WebChannel>),
}

pub async fn call(
    channel: &Channel,
    token: Option<&str>,
    m: &MethodDescriptor,
    msg: DynamicMessage,
) -> Result<DynamicMessage, Status> {
    unary(Grpc::new(channel.clone()), token, m, msg).await
}

pub async fn call_via(
    conn: &Conn,
    token: Option<&str>,
    m: &MethodDescriptor,
    msg: DynamicMessage,
) -> Result<DynamicMessage, Status> {
    match conn {
        Conn::Grpc(c) => unary(Grpc::new(c.clone()), token, m, msg).await,
        Conn::Web(w) => unary(Grpc::new(w.as_ref().clone()), token, m, msg).await,
    }
}

async fn unary<T>(
    grpc: Grpc<T>,
    token: Option<&str>,
    m: &MethodDescriptor,
    msg: DynamicMessage,
) -> Result<DynamicMessage, Status>
where
    T: tonic::client::GrpcService<tonic::body::Body>,
    T::Error: Into<tonic::codegen::StdError>,
    T::ResponseBody: tonic::codegen::Body<Data = tonic::codegen::Bytes> + Send + 'static,
    <T::ResponseBody as tonic::codegen::Body>::Error: Into<tonic::codegen::StdError>,
{
    let mut grpc = grpc
        .max_decoding_message_size(usize::MAX)
        .max_encoding_message_size(usize::MAX);
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.into().to_string()))?;
    let mut req = Request::new(msg);
    if let Some(t) = token {
        req.metadata_mut()
            .insert("authorization", format!("Bearer {t}").parse().unwrap());
    }
    let path = format!("/{}/{}", m.parent_service().full_name(), m.name());
    grpc.unary(req, path.parse().unwrap(), DynCodec::new(m.output()))
        .await
        .and_then(|r| r.into_inner().decode())
}
