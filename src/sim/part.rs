//! One simulated part's life, as viam-server lives it, through the part's own RPCs: it
//! authenticates with its secret, fetches its config (reporting version, OS and platform in
//! agent_info), sends logs, asks NeedsRestart, calls in again every `check_in`; during an
//! offline window it makes no call at all, and comes back authenticating and fetching its
//! config again. Marked for restart, it logs a restart line, is offline `restart_takes`, and
//! starts again (new token, new config).

use std::collections::BTreeMap;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Instant, sleep, sleep_until};
use tokio_util::sync::CancellationToken;
use tonic::Status as RpcStatus;

use super::clock::SimClock;
use super::fleet::{Link, Resolved, authed, authenticate};
use super::logs::{Generator, entry};
use super::readings::Capture;
use super::schedule::Offline;
use super::spec::MachineSpec;
use crate::proto::viam::app::datasync::v1::DataCaptureUploadRequest;
use crate::proto::viam::app::datasync::v1::data_sync_service_client::DataSyncServiceClient;
use crate::proto::viam::app::v1::robot_service_client::RobotServiceClient;
use crate::proto::viam::app::v1::*;
use crate::proto::viam::common::v1::LogEntry;

const DEFAULT_CHECK_IN: Duration = Duration::from_secs(10);
const DEFAULT_RESTART_TAKES: Duration = Duration::from_secs(1);
/// Until the fleet says how often to ask NeedsRestart.
const FIRST_RESTART_CHECK: Duration = Duration::from_secs(5);
/// After a failed call, before trying again.
const RETRY: Duration = Duration::from_millis(500);
/// The logger of the part's own lines (online, restarting), apart from the generated ones.
const LIFECYCLE_LOGGER: &str = "rdk";
/// At most this many entries per Log call (the fleet refuses more per push).
const MAX_BATCH: usize = 1000;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    Starting,
    Online,
    Offline,
    Restarting,
    Stopped,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            Self::Starting => "starting",
            Self::Online => "online",
            Self::Offline => "offline",
            Self::Restarting => "restarting",
            Self::Stopped => "stopped",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [
            Self::Starting,
            Self::Online,
            Self::Offline,
            Self::Restarting,
            Self::Stopped,
        ]
        .into_iter()
        .find(|st| st.name() == s)
    }
}

#[derive(Clone, Debug)]
pub struct Status {
    pub state: State,
    /// The fleet clock's total advance when the part's last successful call (Log or Config)
    /// began: when it equals the clock's current advance, the fleet's stored last_access is
    /// fresh, so summaries show the part online.
    pub synced: Option<Duration>,
    /// Generated log entries sent (not the part's own lifecycle lines), in all and by level.
    pub logs_sent: u64,
    pub by_level: BTreeMap<String, u64>,
    /// Readings uploaded, per component (each component captures as many).
    pub readings_sent: u64,
    pub restarts: u64,
    pub config_fetches: u64,
    /// The component names of the config it fetched last.
    pub components: Vec<String>,
    pub last_error: Option<String>,
}

impl Default for Status {
    fn default() -> Self {
        Self {
            state: State::Starting,
            synced: None,
            logs_sent: 0,
            by_level: BTreeMap::new(),
            readings_sent: 0,
            restarts: 0,
            config_fetches: 0,
            components: vec![],
            last_error: None,
        }
    }
}

pub struct Part {
    pub resolved: Resolved,
    pub spec: MachineSpec,
    pub offline: Offline,
    pub channel: Link,
    pub clock: SimClock,
    pub status: watch::Sender<Status>,
    pub cancel: CancellationToken,
}

/// What woke the online loop.
enum Wake {
    Cancelled,
    ClockMoved,
    Timer,
}

struct Session {
    token: String,
    last_log: Instant,
    last_reading: Instant,
    next_check_in: Instant,
    next_restart_check: Instant,
}

impl Part {
    fn host(&self) -> String {
        self.spec
            .host
            .clone()
            .unwrap_or_else(|| self.resolved.machine_name.clone())
    }

    fn set(&self, f: impl FnOnce(&mut Status)) {
        self.status.send_modify(f);
    }

    fn set_state(&self, state: State) {
        self.status.send_if_modified(|s| {
            let changed = s.state != state;
            s.state = state;
            changed
        });
    }

    fn robot(&self) -> RobotServiceClient<Link> {
        RobotServiceClient::new(self.channel.clone())
    }

    pub async fn run(self) {
        let start = self.clock.now();
        let mut advanced = self.clock.watch();
        let mut logs = Generator::new(&self.spec.logs, &self.host());
        let mut capture = Capture::new(&self.spec.readings);
        let mut session: Option<Session> = None;
        let mut restart_every = self.spec.restart_check.unwrap_or(FIRST_RESTART_CHECK);
        // The clock moved while online: call in once the schedule says it still is.
        let mut call_in = false;
        loop {
            if self.cancel.is_cancelled() {
                break;
            }
            let (offline, change) = self.offline.at(self.clock.now().saturating_sub(start));
            if offline {
                // Gone from the network: the next time online starts a new session.
                session = None;
                self.set_state(State::Offline);
                advanced.mark_unchanged();
                if let Wake::Cancelled = self.wait(&mut advanced, change.map(later)).await {
                    break;
                }
                continue;
            }
            let Some(s) = session.as_mut() else {
                match self.connect(&mut logs).await {
                    Ok(s) => {
                        capture.forgive();
                        session = Some(s);
                    }
                    Err(e) => {
                        self.failed(e);
                        if let Wake::Cancelled = self.wait(&mut advanced, Some(RETRY)).await {
                            break;
                        }
                    }
                }
                continue;
            };
            self.set_state(State::Online);
            let mut next = s.next_check_in.min(s.next_restart_check);
            if let Some(tick) = logs.tick() {
                next = next.min(s.last_log + tick);
            }
            if let Some(tick) = capture.tick() {
                next = next.min(s.last_reading + tick);
            }
            if let Some(change) = change {
                next = next.min(Instant::now() + later(change));
            }
            let result = if std::mem::take(&mut call_in) {
                // The fleet's stored times just aged: call in now, as the part would have.
                self.check_in(s).await
            } else {
                let woke = tokio::select! {
                    () = self.cancel.cancelled() => Wake::Cancelled,
                    r = advanced.changed() => if r.is_ok() { Wake::ClockMoved } else { Wake::Cancelled },
                    () = sleep_until(next) => Wake::Timer,
                };
                match woke {
                    Wake::Cancelled => break,
                    // Back to the schedule first: the advance may have moved it into a window.
                    Wake::ClockMoved => {
                        call_in = true;
                        continue;
                    }
                    Wake::Timer => {
                        self.due(s, &mut logs, &mut capture, &mut restart_every)
                            .await
                    }
                }
            };
            match result {
                Ok(false) => {}
                Ok(true) => {
                    session = None;
                    self.set(|st| {
                        st.state = State::Restarting;
                        st.restarts += 1;
                    });
                    let takes = self.spec.restart_takes.unwrap_or(DEFAULT_RESTART_TAKES);
                    tokio::select! {
                        () = self.cancel.cancelled() => break,
                        () = sleep(takes) => {}
                    }
                }
                Err(e) => {
                    session = None;
                    self.failed(e);
                    if let Wake::Cancelled = self.wait(&mut advanced, Some(RETRY)).await {
                        break;
                    }
                }
            }
        }
        self.set_state(State::Stopped);
    }

    fn failed(&self, e: RpcStatus) {
        tracing::debug!(part = %self.resolved.part_id, "simulated part: {}", e.message());
        self.set(|s| {
            s.state = State::Offline;
            s.last_error = Some(format!("{:?}: {}", e.code(), e.message()));
        });
    }

    /// Sleeps until `wait` passes, the clock moves or the simulation ends.
    async fn wait(&self, advanced: &mut watch::Receiver<Duration>, wait: Option<Duration>) -> Wake {
        let timer = async {
            match wait {
                Some(d) => sleep(d).await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            () = self.cancel.cancelled() => Wake::Cancelled,
            r = advanced.changed() => if r.is_ok() { Wake::ClockMoved } else { Wake::Cancelled },
            () = timer => Wake::Timer,
        }
    }

    /// Authenticates with the part's secret and fetches its config, announcing itself in its
    /// logs as viam-server does at start.
    async fn connect(&self, logs: &mut Generator) -> Result<Session, RpcStatus> {
        let r = &self.resolved;
        let token = authenticate(&self.channel, &r.part_id, "robot-secret", &r.secret).await?;
        let synced = self.clock.advanced();
        let components = self.fetch_config(&token).await?;
        let shown = if components.is_empty() {
            "no components".to_string()
        } else {
            format!("components {}", components.join(", "))
        };
        let line = entry(
            &self.host(),
            "info",
            LIFECYCLE_LOGGER,
            format!("online: config fetched, {shown}"),
        );
        self.push(&token, vec![line]).await?;
        self.set(|s| {
            s.synced = Some(synced);
            s.last_error = None;
        });
        // Entries owed while offline are not sent: a part offline logs nowhere.
        logs.forgive();
        let now = Instant::now();
        let check_in = self.spec.check_in.unwrap_or(DEFAULT_CHECK_IN);
        Ok(Session {
            token,
            last_log: now,
            last_reading: now,
            next_check_in: now + check_in,
            next_restart_check: now + self.spec.restart_check.unwrap_or(Duration::ZERO),
        })
    }

    async fn fetch_config(&self, token: &str) -> Result<Vec<String>, RpcStatus> {
        let spec = &self.spec;
        let req = ConfigRequest {
            id: self.resolved.part_id.clone(),
            agent_info: Some(AgentInfo {
                host: self.host(),
                os: spec.os.clone(),
                ips: vec![],
                version: spec.version.clone(),
                git_revision: String::new(),
                platform: Some(spec.platform.clone()),
                platform_tags: vec![],
            }),
        };
        let config = self
            .robot()
            .config(authed(req, token))
            .await?
            .into_inner()
            .config
            .unwrap_or_default();
        let components: Vec<String> = config.components.into_iter().map(|c| c.name).collect();
        self.set(|s| {
            s.config_fetches += 1;
            s.components = components.clone();
        });
        Ok(components)
    }

    async fn push(&self, token: &str, entries: Vec<LogEntry>) -> Result<(), RpcStatus> {
        let req = LogRequest {
            id: self.resolved.part_id.clone(),
            logs: entries,
        };
        self.robot().log(authed(req, token)).await?;
        Ok(())
    }

    /// Uploads readings as the part's data manager syncs them: the part's own token.
    async fn upload(&self, token: &str, req: DataCaptureUploadRequest) -> Result<(), RpcStatus> {
        DataSyncServiceClient::new(self.channel.clone())
            .data_capture_upload(authed(req, token))
            .await?;
        Ok(())
    }

    /// A check-in: the config again, which keeps the part online in the fleet.
    async fn check_in(&self, s: &mut Session) -> Result<bool, RpcStatus> {
        let synced = self.clock.advanced();
        self.fetch_config(&s.token).await?;
        self.set(|st| st.synced = Some(synced));
        s.next_check_in = Instant::now() + self.spec.check_in.unwrap_or(DEFAULT_CHECK_IN);
        Ok(false)
    }

    /// Whatever is due at `now`: logs, a check-in, a restart check. True when the part must
    /// restart.
    async fn due(
        &self,
        s: &mut Session,
        logs: &mut Generator,
        capture: &mut Capture,
        restart_every: &mut Duration,
    ) -> Result<bool, RpcStatus> {
        let now = Instant::now();
        if capture.tick().is_some_and(|t| now >= s.last_reading + t) {
            let (uploads, n) = capture.due(&self.resolved.part_id, now - s.last_reading, MAX_BATCH);
            s.last_reading = now;
            for req in uploads {
                self.upload(&s.token, req).await?;
            }
            if n > 0 {
                self.set(|st| st.readings_sent += n);
            }
        }
        if logs.tick().is_some_and(|t| now >= s.last_log + t) {
            let batch = logs.due(now - s.last_log, MAX_BATCH);
            s.last_log = now;
            if !batch.is_empty() {
                let synced = self.clock.advanced();
                let mut levels: BTreeMap<String, u64> = BTreeMap::new();
                for e in &batch {
                    *levels.entry(e.level.clone()).or_default() += 1;
                }
                let n = batch.len() as u64;
                self.push(&s.token, batch).await?;
                self.set(|st| {
                    st.synced = Some(synced);
                    st.logs_sent += n;
                    for (l, k) in levels {
                        *st.by_level.entry(l).or_default() += k;
                    }
                });
            }
        }
        if now >= s.next_check_in {
            self.check_in(s).await?;
        }
        if now >= s.next_restart_check {
            let req = NeedsRestartRequest {
                id: self.resolved.part_id.clone(),
            };
            let reply = self
                .robot()
                .needs_restart(authed(req, &s.token))
                .await?
                .into_inner();
            if self.spec.restart_check.is_none() {
                if let Some(d) = reply.restart_check_interval {
                    *restart_every = Duration::new(d.seconds.max(1) as u64, 0);
                }
            }
            s.next_restart_check = Instant::now() + *restart_every;
            if reply.must_restart {
                let line = entry(
                    &self.host(),
                    "info",
                    LIFECYCLE_LOGGER,
                    "restarting: the cloud marked this part for restart".into(),
                );
                self.push(&s.token, vec![line]).await?;
                return Ok(true);
            }
        }
        Ok(false)
    }
}

/// A little past a schedule boundary, so the part wakes on the new side of it.
fn later(d: Duration) -> Duration {
    d + Duration::from_millis(1)
}
