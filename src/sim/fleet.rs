//! Finding (or making) the machine and part each simulated part is, through the app API with an
//! operator's key, as an operator setting up a machine would: by id, or by name in a location
//! (created there when missing). The part's secret, read here, is all the part itself gets.

use std::time::Duration;

use tonic::{Request, Status};

use super::spec::MachineSpec;
use crate::client::Transport;
use crate::proto::rpc::v1::auth_service_client::AuthServiceClient;
use crate::proto::rpc::v1::{AuthenticateRequest, Credentials};
use crate::proto::viam::app::v1::app_service_client::AppServiceClient;
use crate::proto::viam::app::v1::*;

/// Where the fleet answers and the key that sets the machines up.
#[derive(Clone)]
pub struct Access {
    pub url: String,
    pub key_id: String,
    pub key: String,
    pub org_id: String,
    /// The location a machine without `location` is looked up and created in.
    pub location_id: String,
}

impl Access {
    /// The fleet's own owner key and location, as `fleetsh serve` and `fleetsh test` hold them.
    pub fn from_credentials(c: &crate::server::Credentials) -> Self {
        Self {
            url: c.address.clone(),
            key_id: c.api_key_id.clone(),
            key: c.api_key.clone(),
            org_id: c.org_id.clone(),
            location_id: c.location_id.clone(),
        }
    }
}

/// A machine's part, ready to run.
#[derive(Clone, Debug)]
pub struct Resolved {
    pub machine_name: String,
    pub machine_id: String,
    pub part_id: String,
    pub part_name: String,
    pub secret: String,
}

pub const TIMEOUT: Duration = Duration::from_secs(10);

/// How the simulator's calls reach the fleet: a connection, or the fleet's services in this
/// process (`server::in_process`).
pub type Link = tower::util::BoxCloneSyncService<
    http::Request<tonic::body::Body>,
    http::Response<tonic::body::Body>,
    LinkError,
>;

/// A failed call's transport error. A type of its own: with `Transport`'s boxed error, rustc
/// cannot prove a spawned part's future `Send` (tonic's `Into<StdError>` bound is then checked
/// for every lifetime).
#[derive(Debug)]
pub struct LinkError(Box<dyn std::error::Error + Send + Sync>);

impl std::fmt::Display for LinkError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for LinkError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}

/// The simulator's calls through `transport`.
pub fn link(transport: Transport) -> Link {
    use tower::ServiceExt;
    Link::new(transport.map_err(LinkError))
}

/// A connection to the fleet at `url`, as a real part makes one.
pub async fn channel(url: &str) -> Result<Link, String> {
    use tower::ServiceExt;
    let ep = crate::client::endpoint(url).map_err(|e| format!("{e:#}"))?;
    let channel = ep
        .connect()
        .await
        .map_err(|e| format!("cannot reach the fleet at {url}: {e}"))?;
    Ok(Link::new(channel.map_err(|e| LinkError(e.into()))))
}

/// A request with the bearer token and the simulator's deadline.
pub fn authed<T>(msg: T, token: &str) -> Request<T> {
    let mut req = Request::new(msg);
    req.set_timeout(TIMEOUT);
    if let Ok(v) = format!("Bearer {token}").parse() {
        req.metadata_mut().insert("authorization", v);
    }
    req
}

/// Exchanges credentials ("api-key" or "robot-secret") for an access token.
pub async fn authenticate(
    channel: &Link,
    entity: &str,
    kind: &str,
    secret: &str,
) -> Result<String, Status> {
    let mut req = Request::new(AuthenticateRequest {
        entity: entity.into(),
        credentials: Some(Credentials {
            r#type: kind.into(),
            payload: secret.into(),
        }),
    });
    req.set_timeout(TIMEOUT);
    Ok(AuthServiceClient::new(channel.clone())
        .authenticate(req)
        .await?
        .into_inner()
        .access_token)
}

struct Operator {
    app: AppServiceClient<Link>,
    token: String,
    access: Access,
}

impl Operator {
    async fn location_id(&mut self, wanted: Option<&str>) -> Result<String, Status> {
        let Some(wanted) = wanted else {
            return Ok(self.access.location_id.clone());
        };
        let req = ListLocationsRequest {
            organization_id: self.access.org_id.clone(),
        };
        let locations = self
            .app
            .list_locations(authed(req, &self.token))
            .await?
            .into_inner()
            .locations;
        locations
            .iter()
            .find(|l| l.id == wanted)
            .or_else(|| locations.iter().find(|l| l.name == wanted))
            .map(|l| l.id.clone())
            .ok_or_else(|| {
                Status::not_found(format!(
                    "no location {wanted:?} (by id or name) in the organization; create it first"
                ))
            })
    }

    async fn machine(&mut self, spec: &MachineSpec) -> Result<(String, String), Status> {
        if let Some(id) = &spec.id {
            let robot = self
                .app
                .get_robot(authed(GetRobotRequest { id: id.clone() }, &self.token))
                .await?
                .into_inner()
                .robot
                .ok_or_else(|| Status::internal("GetRobot returned no robot"))?;
            return Ok((robot.id, robot.name));
        }
        let name = spec.name.clone().unwrap_or_default();
        let location_id = self.location_id(spec.location.as_deref()).await?;
        let req = ListRobotsRequest {
            location_id: location_id.clone(),
        };
        let robots = self
            .app
            .list_robots(authed(req, &self.token))
            .await?
            .into_inner()
            .robots;
        if let Some(r) = robots.into_iter().find(|r| r.name == name) {
            return Ok((r.id, r.name));
        }
        let req = NewRobotRequest {
            name: name.clone(),
            location: location_id,
        };
        let id = self
            .app
            .new_robot(authed(req, &self.token))
            .await?
            .into_inner()
            .id;
        Ok((id, name))
    }

    async fn resolve(&mut self, spec: &MachineSpec) -> Result<Resolved, Status> {
        let (machine_id, machine_name) = self.machine(spec).await?;
        let req = GetRobotPartsRequest {
            robot_id: machine_id.clone(),
        };
        let parts = self
            .app
            .get_robot_parts(authed(req, &self.token))
            .await?
            .into_inner()
            .parts;
        let part = match &spec.part {
            Some(name) => parts.into_iter().find(|p| &p.name == name || &p.id == name),
            None => parts.into_iter().find(|p| p.main_part),
        }
        .ok_or_else(|| {
            Status::not_found(format!(
                "machine {machine_name:?} has no part {:?}",
                spec.part.as_deref().unwrap_or("(main)")
            ))
        })?;
        Ok(Resolved {
            machine_name,
            machine_id,
            part_id: part.id,
            part_name: part.name,
            secret: part.secret,
        })
    }
}

/// Every machine of the spec, found or made, in order.
pub async fn resolve(
    access: &Access,
    channel: &Link,
    specs: &[MachineSpec],
) -> Result<Vec<Resolved>, String> {
    let token = authenticate(channel, &access.key_id, "api-key", &access.key)
        .await
        .map_err(|s| format!("the simulator's key was refused: {}", s.message()))?;
    let mut op = Operator {
        app: AppServiceClient::new(channel.clone()),
        token,
        access: access.clone(),
    };
    let mut out = Vec::new();
    for spec in specs {
        let r = op
            .resolve(spec)
            .await
            .map_err(|s| format!("simulated machine {}: {}", spec.label(), s.message()))?;
        out.push(r);
    }
    Ok(out)
}
