//! Methods the local fleet lacks answer UNIMPLEMENTED naming the method, whether no service
//! serves the path or a served service has no such RPC.

use tonic::client::Grpc;
use tonic::{Code, Request};
use tonic_prost::ProstCodec;

use crate::harness::TestServer;

async fn call_path(s: &TestServer, path: &'static str) -> tonic::Status {
    let c = &s.fleet.credentials;
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let mut grpc = Grpc::new(s.channel.clone());
    grpc.ready().await.unwrap();
    let mut req = Request::new(());
    req.metadata_mut()
        .insert("authorization", format!("Bearer {token}").parse().unwrap());
    grpc.unary::<(), (), _>(req, path.parse().unwrap(), ProstCodec::default())
        .await
        .expect_err("a method the server lacks")
}

#[tokio::test]
async fn unknown_methods_are_named_in_their_unimplemented_status() {
    let s = TestServer::start().await;
    for path in [
        // A served service without that RPC (its generated router's fallback arm).
        "/viam.app.v1.AppService/NoSuchMethod",
        "/viam.app.v1.RobotService/NoSuchMethod",
        // A service the server does not serve (tonic's router fallback).
        "/viam.app.v1.NoSuchService/Foo",
    ] {
        let status = call_path(&s, path).await;
        assert_eq!(status.code(), Code::Unimplemented, "{path}: {status:?}");
        assert_eq!(
            status.message(),
            format!(
                "method {} is not implemented by the local fleet",
                &path[1..]
            ),
            "{path}"
        );
    }
}

/// Every RPC of the served services that the local fleet lacks says so by name, and none of
/// them is in fact served (implementing one moves it to fixture::requests).
#[tokio::test]
async fn rpcs_not_yet_served_are_named_in_their_unimplemented_status() {
    let s = TestServer::start().await;
    let c = &s.fleet.credentials;
    let token = s.token(&c.api_key_id, &c.api_key).await.unwrap();
    let served: Vec<&str> = crate::fixture::requests()
        .iter()
        .map(|(_, n, _)| *n)
        .collect();
    for (svc, name) in crate::fixture::NOT_YET {
        assert!(!served.contains(name), "{name} is in both tables");
        let m = crate::dynamic::method(svc, name);
        let empty = prost_reflect::DynamicMessage::new(m.input());
        let status = crate::dynamic::call(&s.channel, Some(&token), &m, empty)
            .await
            .expect_err("not served yet");
        assert_eq!(status.code(), Code::Unimplemented, "{name}: {status:?}");
        let path = format!("{}/{}", m.parent_service().full_name(), m.name());
        assert_eq!(
            status.message(),
            format!("method {path} is not implemented by the local fleet"),
        );
    }
}
