//! What a simulated part is, as data: which machine it is (an existing one by id or name, or
//! one to create), what it reports (version, OS, platform), how it logs (a rate and a level
//! mix), when it is offline, and how fast it checks in and restarts. The same shape comes from
//! `fleet.simulate{...}` in a test and from `fleetsh serve --simulate FILE` (Lua or JSON).

use std::path::Path;
use std::time::Duration;

use serde::Deserialize;
use serde_json::Value;

use super::schedule::{Offline, Window};

/// A list of machines, or `{machines = [...]}`.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
enum Document {
    List(Vec<MachineSpec>),
    Table { machines: Vec<MachineSpec> },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MachineSpec {
    /// The machine's name: found in `location`, created there when it does not exist.
    pub name: Option<String>,
    /// An existing machine's id (instead of, or besides, `name`).
    pub id: Option<String>,
    /// A location id or name; default the fleet's own location.
    pub location: Option<String>,
    /// Which of the machine's parts runs; default its main part.
    pub part: Option<String>,
    /// What the part reports in `RobotService/Config`'s agent_info.
    #[serde(default = "default_version")]
    pub version: String,
    #[serde(default = "default_os")]
    pub os: String,
    #[serde(default = "default_platform")]
    pub platform: String,
    /// The host name in agent_info and in every log entry; default the machine's name.
    pub host: Option<String>,
    #[serde(default)]
    pub logs: LogSpec,
    /// What its components capture and upload (DataSyncService/DataCaptureUpload), at a rate.
    #[serde(default)]
    pub readings: ReadingsSpec,
    /// `{every = "10m", lasting = "1m"}` (`for` also works, in JSON) or a list of
    /// `{at = "30s", lasting = "10s"}` windows, in fleet time from the simulation's start.
    pub offline: Option<OfflineSpec>,
    /// How often an online part calls in (fetches its config), keeping it online; default 10s.
    #[serde(default, deserialize_with = "opt_duration")]
    pub check_in: Option<Duration>,
    /// How often it asks NeedsRestart; default what the fleet answers (restart_check_interval).
    #[serde(default, deserialize_with = "opt_duration")]
    pub restart_check: Option<Duration>,
    /// How long a restart keeps it offline; default 1s.
    #[serde(default, deserialize_with = "opt_duration")]
    pub restart_takes: Option<Duration>,
}

fn default_version() -> String {
    "0.0.0-sim".into()
}
fn default_os() -> String {
    "linux".into()
}
fn default_platform() -> String {
    "linux/amd64".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LogSpec {
    /// Entries per second: `"2/s"`, `"30/m"`, `"10/h"` or a number (per second); 0 is silent.
    #[serde(deserialize_with = "rate")]
    pub rate: f64,
    /// Relative weights of the levels, e.g. `{info = 8, warn = 1, error = 1}`.
    #[serde(default = "default_levels")]
    pub levels: std::collections::BTreeMap<String, u32>,
    /// A message per level (`{error = "motor stalled"}`); default "simulated <level> #<n>".
    #[serde(default)]
    pub messages: std::collections::BTreeMap<String, String>,
    /// The logger name of the generated entries; default "rdk.sim".
    #[serde(default = "default_logger")]
    pub logger: String,
}

impl Default for LogSpec {
    fn default() -> Self {
        Self {
            rate: 0.0,
            levels: default_levels(),
            messages: Default::default(),
            logger: default_logger(),
        }
    }
}

fn default_levels() -> std::collections::BTreeMap<String, u32> {
    [("info".to_string(), 1)].into()
}
fn default_logger() -> String {
    "rdk.sim".into()
}

/// `{rate = "1/s", components = {{name = "temp", values = {temperature = {20, 21, 22}}}}}`:
/// every component captures one reading per tick of `rate`, uploaded as the part itself.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReadingsSpec {
    /// Readings per second of each component, as `logs.rate`; 0 (the default) captures nothing.
    #[serde(default, deserialize_with = "rate")]
    pub rate: f64,
    #[serde(default)]
    pub components: Vec<ComponentSpec>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ComponentSpec {
    pub name: String,
    /// The component's API as data rows carry it; default `rdk:component:sensor`.
    #[serde(rename = "type", default = "default_component_type")]
    pub component_type: String,
    /// The captured method; default `Readings`.
    #[serde(default = "default_method")]
    pub method: String,
    /// The reading's fields: a number, string or boolean is the same in every reading; a list
    /// is cycled through, one value per reading, so the data moves and a test knows how.
    #[serde(default)]
    pub values: std::collections::BTreeMap<String, Value>,
}

fn default_component_type() -> String {
    "rdk:component:sensor".into()
}
fn default_method() -> String {
    "Readings".into()
}

#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum OfflineSpec {
    Periodic {
        #[serde(deserialize_with = "duration")]
        every: Duration,
        #[serde(alias = "for", deserialize_with = "duration")]
        lasting: Duration,
        /// Where in each period the window starts; default at its end (`every - lasting`).
        #[serde(default, deserialize_with = "opt_duration")]
        at: Option<Duration>,
    },
    Windows(Vec<WindowSpec>),
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WindowSpec {
    #[serde(deserialize_with = "duration")]
    pub at: Duration,
    #[serde(alias = "for", deserialize_with = "duration")]
    pub lasting: Duration,
}

impl MachineSpec {
    /// What a failure message calls this machine.
    pub fn label(&self) -> String {
        match (&self.name, &self.id) {
            (Some(n), _) => n.clone(),
            (None, Some(id)) => id.clone(),
            (None, None) => "(unnamed)".into(),
        }
    }

    pub fn offline(&self) -> Result<Offline, String> {
        let label = self.label();
        match &self.offline {
            None => Ok(Offline::Never),
            Some(OfflineSpec::Periodic { every, lasting, at }) => {
                Offline::periodic(*every, *lasting, *at)
                    .map_err(|e| format!("{label}: offline: {e}"))
            }
            Some(OfflineSpec::Windows(w)) => Ok(Offline::Windows(
                w.iter()
                    .map(|w| Window {
                        at: w.at,
                        lasting: w.lasting,
                    })
                    .collect(),
            )),
        }
    }

    fn check(&self) -> Result<(), String> {
        let label = self.label();
        if self.name.is_none() && self.id.is_none() {
            return Err("every simulated machine needs a name or an id".into());
        }
        if !self.logs.rate.is_finite() || self.logs.rate < 0.0 {
            return Err(format!("{label}: logs.rate must be 0 or more per second"));
        }
        if self.logs.rate > 0.0 && self.logs.levels.values().all(|w| *w == 0) {
            return Err(format!(
                "{label}: logs.levels needs a level with a weight above 0"
            ));
        }
        let readings = &self.readings;
        if !readings.rate.is_finite() || readings.rate < 0.0 {
            return Err(format!(
                "{label}: readings.rate must be 0 or more per second"
            ));
        }
        if readings.rate > 0.0 && readings.components.is_empty() {
            return Err(format!(
                "{label}: readings.rate needs components ({{name = \"temp\", values = {{...}}}})"
            ));
        }
        for c in &readings.components {
            if c.name.trim().is_empty() {
                return Err(format!("{label}: every readings component needs a name"));
            }
            for (field, v) in &c.values {
                if matches!(v, Value::Array(a) if a.is_empty()) || v.is_null() {
                    return Err(format!(
                        "{label}: readings of {}: {field} needs a value or a non-empty list",
                        c.name
                    ));
                }
            }
        }
        for (k, d) in [
            ("check_in", self.check_in),
            ("restart_check", self.restart_check),
        ] {
            if d.is_some_and(|d| d < Duration::from_millis(10)) {
                return Err(format!("{label}: {k} must be at least 10ms"));
            }
        }
        self.offline().map(|_| ())
    }
}

/// The machines of a spec document (a JSON value, e.g. a Lua table converted).
pub fn machines(v: Value) -> Result<Vec<MachineSpec>, String> {
    let machines = match serde_json::from_value::<Document>(v.clone()) {
        Ok(Document::List(m) | Document::Table { machines: m }) => m,
        // Untagged enums hide the real problem: decode the likeliest shape again for it.
        Err(_) => {
            let shown = |e: serde_json::Error| e.to_string();
            match v {
                Value::Object(mut o) if o.contains_key("machines") => {
                    serde_json::from_value::<Vec<MachineSpec>>(
                        o.remove("machines").unwrap_or_default(),
                    )
                    .map_err(shown)?
                }
                Value::Array(_) => serde_json::from_value::<Vec<MachineSpec>>(v).map_err(shown)?,
                _ => {
                    return Err(
                        "expected a list of machines or {machines = {...}}, each a table with a name"
                            .into(),
                    );
                }
            }
        }
    };
    for m in &machines {
        m.check()?;
    }
    Ok(machines)
}

/// `--simulate FILE`: JSON (`.json`) or a Lua chunk returning the table (no libraries but
/// string, table and math: the file is data).
pub fn from_file(path: &Path) -> Result<Vec<MachineSpec>, String> {
    let shown = path.display();
    let text = std::fs::read_to_string(path).map_err(|e| format!("{shown}: {e}"))?;
    let value: Value = if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(&text).map_err(|e| format!("{shown}: {e}"))?
    } else {
        use mlua::{LuaOptions, LuaSerdeExt, StdLib};
        let lua = mlua::Lua::new_with(
            StdLib::STRING | StdLib::TABLE | StdLib::MATH,
            LuaOptions::default(),
        )
        .map_err(|e| format!("{shown}: {e}"))?;
        let t: mlua::Value = lua
            .load(&text)
            .set_name(format!("@{shown}"))
            .eval()
            .map_err(|e| format!("{shown}: {e}"))?;
        lua.from_value(t).map_err(|e| format!("{shown}: {e}"))?
    };
    machines(value).map_err(|e| format!("{shown}: {e}"))
}

fn parse_duration(v: &Value) -> Result<Duration, String> {
    match v {
        Value::Number(n) => n
            .as_f64()
            .filter(|s| s.is_finite() && *s >= 0.0)
            .map(Duration::from_secs_f64)
            .ok_or_else(|| format!("{n} is not a duration in seconds")),
        Value::String(s) => humantime::parse_duration(s.trim())
            .map_err(|e| format!("'{s}' is not a duration (e.g. 10m, 30s, 500ms): {e}")),
        other => Err(format!(
            "expected a duration (\"30s\" or seconds), got {other}"
        )),
    }
}

fn duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
    parse_duration(&Value::deserialize(d)?).map_err(serde::de::Error::custom)
}

fn opt_duration<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Duration>, D::Error> {
    duration(d).map(Some)
}

/// Entries per second from `"N/s"`, `"N/m"`, `"N/h"` or a number.
pub fn parse_rate(v: &Value) -> Result<f64, String> {
    let bad =
        || format!("{v} is not a rate (e.g. \"2/s\", \"30/m\", \"10/h\" or a number per second)");
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(bad),
        Value::String(s) => {
            let (count, unit) = s.split_once('/').ok_or_else(bad)?;
            let count: f64 = count.trim().parse().map_err(|_| bad())?;
            let per = match unit.trim() {
                "s" | "sec" | "second" => 1.0,
                "m" | "min" | "minute" => 60.0,
                "h" | "hour" => 3600.0,
                _ => return Err(bad()),
            };
            Ok(count / per)
        }
        _ => Err(bad()),
    }
}

fn rate<'de, D: serde::Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    parse_rate(&Value::deserialize(d)?).map_err(serde::de::Error::custom)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_full_machine_spec() {
        let m = machines(json!([{
            "name": "rover-1", "version": "0.60.0",
            "logs": {"rate": "30/m", "levels": {"info": 8, "error": 2}},
            "offline": {"every": "10m", "for": "1m"},
            "check_in": "200ms", "restart_takes": 0.5
        }]))
        .unwrap();
        assert_eq!(m[0].name.as_deref(), Some("rover-1"));
        assert_eq!(m[0].logs.rate, 0.5);
        assert_eq!(m[0].logs.levels["error"], 2);
        assert_eq!(m[0].check_in, Some(Duration::from_millis(200)));
        assert_eq!(m[0].restart_takes, Some(Duration::from_millis(500)));
        assert_eq!(m[0].os, "linux");
        assert!(matches!(
            m[0].offline(),
            Ok(Offline::Periodic { every, .. }) if every == Duration::from_secs(600)
        ));
    }

    #[test]
    fn machines_as_a_table_and_windows() {
        let m = machines(json!({"machines": [{"id": "r1",
            "offline": [{"at": "30s", "lasting": "10s"}]}]}))
        .unwrap();
        assert!(matches!(m[0].offline(), Ok(Offline::Windows(w)) if w.len() == 1));
    }

    #[test]
    fn mistakes_are_named() {
        let e = machines(json!([{"name": "a", "logz": {}}])).unwrap_err();
        assert!(e.contains("unknown field `logz`"), "{e}");
        let e = machines(json!([{"name": "a", "logs": {"rate": "2/d"}}])).unwrap_err();
        assert!(e.contains("is not a rate"), "{e}");
        let e = machines(json!([{"logs": {"rate": 1}}])).unwrap_err();
        assert!(e.contains("needs a name or an id"), "{e}");
        let e =
            machines(json!([{"name": "a", "offline": {"every": "1m", "for": "2m"}}])).unwrap_err();
        assert!(e.contains("a: offline:"), "{e}");
        let e = machines(json!([{"name": "a", "readings": {"rate": "1/s"}}])).unwrap_err();
        assert!(e.contains("readings.rate needs components"), "{e}");
        let e = machines(json!([{"name": "a", "readings": {"rate": 1,
            "components": [{"name": "t", "values": {"x": []}}]}}]))
        .unwrap_err();
        assert!(e.contains("x needs a value or a non-empty list"), "{e}");
        assert!(machines(json!("x")).is_err());
    }

    #[test]
    fn rates() {
        assert_eq!(parse_rate(&json!("2/s")).unwrap(), 2.0);
        assert_eq!(parse_rate(&json!("120/min")).unwrap(), 2.0);
        assert_eq!(parse_rate(&json!(0.5)).unwrap(), 0.5);
        assert!(parse_rate(&json!("fast")).is_err());
    }
}
