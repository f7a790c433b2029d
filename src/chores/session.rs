//! One unattended run's state shared with the call hook: the run id, the dry-run plan and the
//! audit file (`--audit`: one JSON line per mutating call, appended, mode 0600).

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;

use super::logger::{LogFormat, Logger, now};

pub struct Session {
    pub dry_run: bool,
    pub logger: Rc<Logger>,
    plan: RefCell<Vec<serde_json::Value>>,
    audit: Option<RefCell<File>>,
    /// A failed audit write fails the run: an unaudited change must not look like success.
    pub audit_failed: Cell<bool>,
    /// id -> name of what this run's reads returned, so plan lines can name what they touch.
    names: RefCell<HashMap<String, String>>,
}

impl Session {
    pub fn new(dry_run: bool, logger: Rc<Logger>, audit: Option<&Path>) -> Result<Self, String> {
        let audit = audit
            .map(|p| {
                let mut o = std::fs::OpenOptions::new();
                o.create(true).append(true);
                #[cfg(unix)]
                std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
                o.open(p)
                    .map(RefCell::new)
                    .map_err(|e| format!("cannot open the audit file {}: {e}", p.display()))
            })
            .transpose()?;
        Ok(Self {
            dry_run,
            logger,
            plan: RefCell::new(Vec::new()),
            audit,
            audit_failed: Cell::new(false),
            names: RefCell::new(HashMap::new()),
        })
    }

    pub fn plan(&self, method: &str, rpc: &str, args: serde_json::Value) {
        let mut named = serde_json::Map::new();
        self.name_ids(&args, &mut named, 0);
        self.plan
            .borrow_mut()
            .push(serde_json::json!({"method": method, "rpc": rpc, "args": args, "names": named}));
    }

    /// Remembers `id -> name` of every table with both (a location, a machine, a key's
    /// `api_key`...), a few levels into a reply.
    pub fn learn_names(&self, t: &mlua::Table) -> mlua::Result<()> {
        self.learn(t, 0)
    }

    fn learn(&self, t: &mlua::Table, depth: usize) -> mlua::Result<()> {
        use mlua::Value as Lv;
        if let (Lv::String(id), Lv::String(name)) = (t.raw_get("id")?, t.raw_get("name")?) {
            let (id, name) = (id.to_string_lossy(), name.to_string_lossy());
            if !id.is_empty() && !name.is_empty() {
                self.names.borrow_mut().insert(id, name);
            }
        }
        if depth < 4 {
            crate::lua::lazy::force(t)?;
            for pair in t.pairs::<Lv, Lv>() {
                if let (_, Lv::Table(sub)) = pair? {
                    self.learn(&sub, depth + 1)?;
                }
            }
        }
        Ok(())
    }

    /// The known names of the ids among a planned call's arguments.
    fn name_ids(
        &self,
        v: &serde_json::Value,
        out: &mut serde_json::Map<String, serde_json::Value>,
        depth: usize,
    ) {
        match v {
            serde_json::Value::String(s) => {
                if let Some(n) = self.names.borrow().get(s) {
                    out.insert(s.clone(), n.clone().into());
                }
            }
            serde_json::Value::Array(a) if depth < 4 => {
                a.iter().for_each(|x| self.name_ids(x, out, depth + 1))
            }
            serde_json::Value::Object(o) if depth < 4 => {
                o.values().for_each(|x| self.name_ids(x, out, depth + 1))
            }
            _ => {}
        }
    }

    /// Whether mutating calls are planned or audited at all (else the hook has nothing to do).
    pub fn records_changes(&self) -> bool {
        self.dry_run || self.audit.is_some()
    }

    pub fn planned_changes(&self) -> usize {
        self.plan.borrow().len()
    }

    /// `outcome`: Ok("ok" | "planned") or Err(the gRPC code name).
    pub fn audit(
        &self,
        method: &str,
        rpc: &str,
        targets: serde_json::Value,
        outcome: Result<&str, &str>,
    ) {
        let Some(file) = &self.audit else { return };
        let mut line = serde_json::json!({
            "time": now(), "run_id": self.logger.run_id, "script": self.logger.script,
            "method": method, "rpc": rpc, "targets": targets,
            "outcome": outcome.unwrap_or("error"),
        });
        if let Err(code) = outcome {
            line["code"] = code.into();
        }
        // One write per line: appends from concurrent runs do not interleave.
        let text = format!("{line}\n");
        if let Err(e) = file.borrow_mut().write_all(text.as_bytes()) {
            if !self.audit_failed.replace(true) {
                self.logger
                    .runner("error", &format!("cannot write the audit file: {e}"));
            }
        }
    }

    /// The plan, printed on stdout at the end of a dry run: a JSON document with JSON logs or
    /// when stdout carries JSON (`json_on_stdout`), so it stays one format for `jq`.
    pub fn print_plan(&self, json_on_stdout: bool) {
        let plan = self.plan.borrow();
        let mut out = std::io::stdout().lock();
        let json = json_on_stdout || self.logger.format == LogFormat::Json;
        let _ = match (json, plan.is_empty()) {
            (true, _) => writeln!(
                out,
                "{}",
                serde_json::json!({"run_id": self.logger.run_id, "dry_run": true, "plan": *plan})
            ),
            (false, true) => writeln!(out, "dry run: no changes"),
            (false, false) => {
                let _ = writeln!(out, "dry run: {} change(s) planned, none sent:", plan.len());
                for p in plan.iter() {
                    let names = p["names"]
                        .as_object()
                        .filter(|n| !n.is_empty())
                        .map(|n| {
                            let each: Vec<&str> = n.values().filter_map(|v| v.as_str()).collect();
                            format!("  # {}", each.join(", "))
                        })
                        .unwrap_or_default();
                    let _ = writeln!(
                        out,
                        "  {} {}{names}",
                        p["method"].as_str().unwrap_or(""),
                        p["args"]
                    );
                }
                Ok(())
            }
        };
    }
}
