//! Simulated parts in a local fleet (issue 13, "Machines that live"): tokio tasks that act as
//! viam-server does, over a real gRPC connection to the fleet (under `fleetsh serve`, through
//! its services in the same process, with the same token checks), through the RPCs a real part
//! uses (Authenticate with the part secret, RobotService/Config, Log, NeedsRestart). The
//! fleet cannot tell them from real parts: summaries, logs and tails show what they report.
//! Readings are captured by the spec's components and uploaded with DataSyncService's
//! DataCaptureUpload, as the part itself, so data queries see them arrive.
//!
//! spec.rs is what a simulated part is, schedule.rs when it is offline, clock.rs the time the
//! schedule runs on, fleet.rs finding its machine, logs.rs what it logs, readings.rs what it
//! captures, part.rs its loop.

pub mod clock;
pub mod fleet;
mod logs;
pub mod part;
mod readings;
pub mod schedule;
pub mod spec;

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

pub use clock::SimClock;
pub use fleet::Access;
pub use part::{State, Status};
pub use spec::MachineSpec;

/// A running simulated part, as its caller sees it.
pub struct SimPart {
    pub machine_name: String,
    pub machine_id: String,
    pub part_id: String,
    pub part_name: String,
    status: watch::Receiver<Status>,
    cancel: CancellationToken,
    clock: SimClock,
}

impl SimPart {
    pub fn status(&self) -> Status {
        self.status.borrow().clone()
    }

    pub fn watch(&self) -> watch::Receiver<Status> {
        self.status.clone()
    }

    /// Online as the fleet sees it: online, and its last call came after the clock's last
    /// advance (so its stored last_access is fresh).
    pub fn live(&self, s: &Status) -> bool {
        s.state == State::Online && s.synced == Some(self.clock.advanced())
    }

    /// Ends the part's loop; it makes no further call.
    pub fn stop(&self) {
        self.cancel.cancel();
    }

    /// Waits until `done(status)` or `timeout`; the last status either way.
    pub async fn wait_until(
        &self,
        timeout: Duration,
        mut done: impl FnMut(&Status) -> bool,
    ) -> Result<Status, Status> {
        let mut rx = self.status.clone();
        let waiting = async {
            loop {
                let s = rx.borrow_and_update().clone();
                if done(&s) {
                    return Ok(s);
                }
                if rx.changed().await.is_err() {
                    return Err(s);
                }
            }
        };
        match tokio::time::timeout(timeout, waiting).await {
            Ok(r) => r,
            Err(_) => Err(self.status()),
        }
    }
}

/// The parts of one simulation; they run until `stop` (or until dropped, which cancels them).
pub struct Simulation {
    pub parts: Vec<Arc<SimPart>>,
    tasks: Vec<JoinHandle<()>>,
    cancel: CancellationToken,
}

impl Drop for Simulation {
    fn drop(&mut self) {
        self.cancel.cancel();
    }
}

impl Simulation {
    /// Stops every part and waits until none makes a call any more.
    pub async fn stop(mut self) {
        self.cancel.cancel();
        for t in self.tasks.drain(..) {
            let _ = t.await;
        }
    }
}

/// Finds or makes each machine of `specs` with the operator's key in `access`, then starts a
/// part task for each, on the current tokio runtime; the parts connect to `access.url`.
pub async fn start(
    access: &Access,
    specs: Vec<MachineSpec>,
    clock: SimClock,
) -> Result<Simulation, String> {
    let channel = fleet::channel(&access.url).await?;
    start_on(channel, access, specs, clock).await
}

/// As `start`, with the parts calling through `channel` (e.g. `server::in_process`).
pub async fn start_on(
    channel: fleet::Link,
    access: &Access,
    specs: Vec<MachineSpec>,
    clock: SimClock,
) -> Result<Simulation, String> {
    let resolved = fleet::resolve(access, &channel, &specs).await?;
    let cancel = CancellationToken::new();
    let mut parts = Vec::new();
    let mut tasks = Vec::new();
    for (spec, r) in specs.into_iter().zip(resolved) {
        let offline = spec.offline()?;
        let (tx, rx) = watch::channel(Status::default());
        let part_cancel = cancel.child_token();
        parts.push(Arc::new(SimPart {
            machine_name: r.machine_name.clone(),
            machine_id: r.machine_id.clone(),
            part_id: r.part_id.clone(),
            part_name: r.part_name.clone(),
            status: rx,
            cancel: part_cancel.clone(),
            clock: clock.clone(),
        }));
        let part = part::Part {
            resolved: r,
            spec,
            offline,
            channel: channel.clone(),
            clock: clock.clone(),
            status: tx,
            cancel: part_cancel,
        };
        tasks.push(tokio::spawn(part.run()));
    }
    Ok(Simulation {
        parts,
        tasks,
        cancel,
    })
}

/// `fleetsh serve --simulate FILE`: the file's machines, simulated against the fleet just
/// started (its owner key finds or makes them). The parts call it in this process: the
/// fleet's socket may speak TLS with a certificate no system root vouches for, or listen on
/// an address (0.0.0.0) that names no host, and neither should keep its own parts out.
pub async fn serve(
    file: Option<&std::path::Path>,
    fleet: &crate::server::RunningFleet,
) -> anyhow::Result<Option<Simulation>> {
    let Some(file) = file else { return Ok(None) };
    let specs = spec::from_file(file).map_err(|e| anyhow::anyhow!("--simulate {e}"))?;
    let access = Access::from_credentials(&fleet.credentials);
    let channel = fleet::link(crate::server::in_process(&fleet.api));
    let sim = start_on(channel, &access, specs, SimClock::new())
        .await
        .map_err(|e| anyhow::anyhow!("--simulate {}: {e}", file.display()))?;
    let names: Vec<&str> = sim.parts.iter().map(|p| p.machine_name.as_str()).collect();
    eprintln!(
        "fleetsh: simulating {} machine(s) from {}: {}",
        names.len(),
        file.display(),
        names.join(", ")
    );
    Ok(Some(sim))
}
