//! A real server on 127.0.0.1:0 with a temporary data directory, and typed clients for it.

use fleetsh::proto::rpc::v1::auth_service_client::AuthServiceClient;
use fleetsh::proto::rpc::v1::{AuthenticateRequest, Credentials as RpcCredentials};
use fleetsh::proto::viam::app::v1::app_service_client::AppServiceClient;
use fleetsh::server::{RunningFleet, ServeOptions, start};
use tonic::metadata::MetadataValue;
use tonic::service::Interceptor;
use tonic::service::interceptor::InterceptedService;
use tonic::transport::Channel;
use tonic::{Request, Status};

#[derive(Clone)]
pub struct Bearer(pub Option<MetadataValue<tonic::metadata::Ascii>>);

impl Interceptor for Bearer {
    fn call(&mut self, mut req: Request<()>) -> Result<Request<()>, Status> {
        if let Some(v) = &self.0 {
            req.metadata_mut().insert("authorization", v.clone());
        }
        Ok(req)
    }
}

pub type App = AppServiceClient<InterceptedService<Channel, Bearer>>;

pub struct TestServer {
    pub fleet: RunningFleet,
    pub dir: tempfile::TempDir,
    pub channel: Channel,
}

impl TestServer {
    pub async fn start() -> Self {
        Self::start_with(|_| {}).await
    }

    pub async fn start_with(f: impl FnOnce(&mut ServeOptions)) -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::start_in(dir, f).await
    }

    pub async fn start_in(dir: tempfile::TempDir, f: impl FnOnce(&mut ServeOptions)) -> Self {
        let mut opts = ServeOptions::new(dir.path());
        opts.listen = "127.0.0.1:0".parse().unwrap();
        f(&mut opts);
        let fleet = start(&opts).await.unwrap();
        let channel = Channel::from_shared(fleet.credentials.address.clone())
            .unwrap()
            .connect()
            .await
            .unwrap();
        Self {
            fleet,
            dir,
            channel,
        }
    }

    pub fn org_id(&self) -> &str {
        &self.fleet.credentials.org_id
    }

    pub fn location_id(&self) -> &str {
        &self.fleet.credentials.location_id
    }

    pub async fn token(&self, key_id: &str, key: &str) -> Result<String, Status> {
        let mut auth = AuthServiceClient::new(self.channel.clone());
        let resp = auth
            .authenticate(AuthenticateRequest {
                entity: key_id.into(),
                credentials: Some(RpcCredentials {
                    r#type: "api-key".into(),
                    payload: key.into(),
                }),
            })
            .await?;
        Ok(resp.into_inner().access_token)
    }

    /// A client holding the owner key created at first start.
    pub async fn owner(&self) -> App {
        let c = &self.fleet.credentials;
        self.client_for(&c.api_key_id, &c.api_key).await
    }

    pub async fn client_for(&self, key_id: &str, key: &str) -> App {
        let token = self.token(key_id, key).await.expect("authenticate");
        self.with_token(Some(&token))
    }

    /// A client sending `token` as is (None: no authorization header at all).
    pub fn with_token(&self, token: Option<&str>) -> App {
        let header = token.map(|t| format!("Bearer {t}").parse().unwrap());
        AppServiceClient::with_interceptor(self.channel.clone(), Bearer(header))
            .max_decoding_message_size(usize::MAX)
            .max_encoding_message_size(usize::MAX)
    }
}

/// Asserts that a call failed with `code` and that its message contains `needle`.
#[track_caller]
pub fn assert_status<T: std::fmt::Debug>(r: Result<T, Status>, code: tonic::Code, needle: &str) {
    match r {
        Ok(v) => panic!("expected {code:?}, got Ok({v:?})"),
        Err(s) => {
            assert_eq!(s.code(), code, "message: {}", s.message());
            assert!(
                s.message().contains(needle),
                "{:?} does not contain {needle:?}",
                s.message()
            );
        }
    }
}

/// A loopback port that is free now: for a server restarted at the same URL, or for a URL
/// where nothing listens.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A URL where nothing listens (connections are refused).
pub fn dead_url() -> String {
    format!("http://127.0.0.1:{}", free_port())
}
