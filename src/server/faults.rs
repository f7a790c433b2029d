//! Faults a test injects into the local fleet: rules that make chosen calls fail or slow down,
//! checked before the handler runs (call.rs). A rule names the calls by RPC (a glob, any case:
//! `MarkPartForRestart`, `Get*`), optionally by principal (the key or part id of the caller)
//! or by a resource id anywhere in the request; it answers a code and message, after a
//! latency, on the next K matching calls (`times`), on the Nth one only (`nth`), or with a
//! probability. Rules come from a test (`fleet.fault{}`), a `fleetsh serve --faults FILE` and
//! the admin API (admin.rs), the last two through `Rule::from_fields`.

use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::{Map, Value};
use tonic::{Code, Status};

/// A rule's fields, as a `--faults` file and the admin API name them (`fleet.fault{}` too).
pub const FIELDS: &[&str] = &[
    "method",
    "principal",
    "resource",
    "code",
    "message",
    "latency",
    "probability",
    "nth",
    "times",
];

#[derive(Debug, Clone)]
pub struct Rule {
    /// Given by `Faults::add` (`fault-1`, ...): what the admin API lists and clears by.
    pub id: String,
    pub method: glob::Pattern,
    pub principal: Option<String>,
    pub resource: Option<String>,
    /// None: only the latency (a slow call that then succeeds).
    pub code: Option<Code>,
    pub message: String,
    pub latency: Duration,
    /// Answer this many matching calls, then stop (None: every one).
    pub times: Option<u64>,
    /// Only the Nth matching call (1-based).
    pub nth: Option<u64>,
    pub probability: f64,
    /// Matching calls seen so far.
    pub seen: u64,
}

impl Rule {
    pub fn new(method: &str) -> Result<Self, String> {
        let method = glob::Pattern::new(method)
            .map_err(|e| format!("method {method:?} is not a glob: {e}"))?;
        Ok(Self {
            id: String::new(),
            method,
            principal: None,
            resource: None,
            code: Some(Code::Unavailable),
            message: "fault injected by the test".into(),
            latency: Duration::ZERO,
            times: None,
            nth: None,
            probability: 1.0,
            seen: 0,
        })
    }

    /// A rule from its fields as JSON values (a TOML table converts to the same); a refusal
    /// names the field.
    pub fn from_fields(fields: &Map<String, Value>) -> Result<Self, FieldError> {
        if let Some(k) = fields.keys().find(|k| !FIELDS.contains(&k.as_str())) {
            return Err(FieldError::new(
                k,
                format!("unknown field (the fields: {})", FIELDS.join(", ")),
            ));
        }
        let text = |name: &'static str| -> Result<Option<String>, FieldError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(other) => Err(FieldError::new(
                    name,
                    format!("expected a string, got {other}"),
                )),
            }
        };
        let count = |name: &'static str, least: u64| -> Result<Option<u64>, FieldError> {
            match fields.get(name) {
                None | Some(Value::Null) => Ok(None),
                Some(v) => match v.as_u64() {
                    Some(n) if n >= least => Ok(Some(n)),
                    _ => Err(FieldError::new(
                        name,
                        format!("expected a whole number of at least {least}, got {v}"),
                    )),
                },
            }
        };
        // Empty is absent too: a proto3 string has no other way to be missing.
        let method = text("method")?.filter(|m| !m.is_empty()).ok_or_else(|| {
            FieldError::new(
                "method",
                "required (an RPC name or glob, e.g. \"MarkPartForRestart\")",
            )
        })?;
        let mut rule = Self::new(&method).map_err(|e| FieldError::new("method", e))?;
        rule.principal = text("principal")?;
        rule.resource = text("resource")?;
        if let Some(name) = text("code")? {
            rule.code = code_by_name(&name).ok_or_else(|| {
                FieldError::new(
                    "code",
                    format!(
                        "'{name}' is not a gRPC code name (e.g. UNAVAILABLE; OK for a latency only)"
                    ),
                )
            })?;
        }
        if let Some(m) = text("message")? {
            rule.message = m;
        }
        match fields.get("latency") {
            None | Some(Value::Null) => {}
            Some(Value::String(s)) => {
                rule.latency = humantime::parse_duration(s.trim()).map_err(|e| {
                    FieldError::new(
                        "latency",
                        format!("'{s}' is not a duration (e.g. 500ms, 2s): {e}"),
                    )
                })?;
            }
            Some(v) => {
                rule.latency = v
                    .as_f64()
                    .and_then(|secs| Duration::try_from_secs_f64(secs).ok())
                    .ok_or_else(|| {
                        FieldError::new(
                            "latency",
                            format!("expected seconds or a duration string, got {v}"),
                        )
                    })?;
            }
        }
        if let Some(v) = fields.get("probability").filter(|v| !v.is_null()) {
            rule.probability = v
                .as_f64()
                .filter(|p| (0.0..=1.0).contains(p))
                .ok_or_else(|| {
                    FieldError::new(
                        "probability",
                        format!("expected a number from 0 to 1, got {v}"),
                    )
                })?;
        }
        rule.nth = count("nth", 1)?;
        rule.times = count("times", 0)?;
        Ok(rule)
    }

    /// The rule's fields, as `from_fields` takes them (`times`: the calls it has left).
    pub fn fields(&self) -> Map<String, Value> {
        let mut m = Map::new();
        m.insert("method".into(), self.method.as_str().into());
        if let Some(p) = &self.principal {
            m.insert("principal".into(), p.as_str().into());
        }
        if let Some(r) = &self.resource {
            m.insert("resource".into(), r.as_str().into());
        }
        let code = self.code.map_or("OK", crate::lua::error::code_name);
        m.insert("code".into(), code.into());
        m.insert("message".into(), self.message.as_str().into());
        if !self.latency.is_zero() {
            m.insert(
                "latency".into(),
                humantime::format_duration(self.latency).to_string().into(),
            );
        }
        if self.probability < 1.0 {
            m.insert("probability".into(), self.probability.into());
        }
        if let Some(n) = self.nth {
            m.insert("nth".into(), n.into());
        }
        if let Some(t) = self.times {
            m.insert("times".into(), t.into());
        }
        m
    }
}

/// A gRPC code by its name (`UNAVAILABLE`); `OK` is `Some(None)`: the call only waits.
pub fn code_by_name(name: &str) -> Option<Option<Code>> {
    if name == "OK" {
        return Some(None);
    }
    (1..=16)
        .map(Code::from_i32)
        .find(|c| crate::lua::error::code_name(*c) == name)
        .map(Some)
}

/// A rule refused: which field, and why.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldError {
    pub field: String,
    pub message: String,
}

impl FieldError {
    fn new(field: &str, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "field '{}': {}", self.field, self.message)
    }
}

/// The rules of a `--faults` file: TOML (`[[faults]]` tables) or JSON (`{"faults": [...]}` or
/// the bare list), by its extension. A refusal names the file, the rule (1-based) and the field.
pub fn rules_from_file(path: &Path, text: &str) -> Result<Vec<Rule>, String> {
    let shown = path.display();
    let doc: Value = match path.extension().and_then(|e| e.to_str()) {
        Some("toml") => toml::from_str(text).map_err(|e| format!("{shown}: {e}"))?,
        Some("json") => serde_json::from_str(text).map_err(|e| format!("{shown}: {e}"))?,
        _ => return Err(format!("{shown}: a faults file is .toml or .json")),
    };
    let list = match &doc {
        Value::Array(list) => list,
        Value::Object(o) => match o.get("faults") {
            Some(Value::Array(list)) if o.len() == 1 => list,
            _ => {
                return Err(format!(
                    "{shown}: expected only a list `faults` of rules ([[faults]] tables in TOML)"
                ));
            }
        },
        _ => return Err(format!("{shown}: expected a list of rules")),
    };
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let n = i + 1;
            let fields = v
                .as_object()
                .ok_or_else(|| format!("{shown}: rule {n}: expected a table of fields, got {v}"))?;
            Rule::from_fields(fields).map_err(|e| format!("{shown}: rule {n}: {e}"))
        })
        .collect()
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
    /// The number in the last id given.
    last_id: AtomicU64,
}

/// What a matching rule does to one call.
pub struct Effect {
    pub latency: Duration,
    pub status: Option<Status>,
}

/// `mark_part_for_restart` (a handler's name) against `MarkPartForRestart` or `Mark*`.
fn matches(pattern: &glob::Pattern, method: &str) -> bool {
    let name: String = method.chars().filter(|c| *c != '_').collect();
    let opts = glob::MatchOptions {
        case_sensitive: false,
        ..Default::default()
    };
    pattern.matches_with(&name, opts)
}

impl Faults {
    /// Adds a rule after the others (the first that matches a call applies); returns its id.
    pub fn add(&self, mut rule: Rule) -> String {
        rule.id = format!("fault-{}", self.last_id.fetch_add(1, Ordering::Relaxed) + 1);
        let id = rule.id.clone();
        self.lock().push(rule);
        id
    }

    pub fn clear(&self) {
        self.lock().clear();
    }

    /// Removes the rules with these ids, all or (when some id names no rule) none; returns
    /// the ids that named none.
    pub fn remove(&self, ids: &[String]) -> Vec<String> {
        let mut rules = self.lock();
        let unknown: Vec<String> = ids
            .iter()
            .filter(|id| !rules.iter().any(|r| &r.id == *id))
            .cloned()
            .collect();
        if unknown.is_empty() {
            rules.retain(|r| !ids.contains(&r.id));
        }
        unknown
    }

    /// The rules in the order they apply, with their counts so far.
    pub fn list(&self) -> Vec<Rule> {
        self.lock().clone()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Rule>> {
        self.rules.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The effect on this call, if a rule matches (the first that does). `request` gives the
    /// request's bytes, asked for only when a rule names a resource.
    pub fn effect(
        &self,
        method: &str,
        principal: &str,
        request: impl FnOnce() -> Vec<u8>,
    ) -> Option<Effect> {
        let mut rules = self.lock();
        if rules.is_empty() {
            return None;
        }
        let mut bytes: Option<Vec<u8>> = None;
        let mut request = Some(request);
        for rule in rules.iter_mut() {
            if !matches(&rule.method, method)
                || rule.principal.as_deref().is_some_and(|p| p != principal)
            {
                continue;
            }
            if let Some(id) = &rule.resource {
                let b = bytes.get_or_insert_with(|| request.take().map_or_else(Vec::new, |f| f()));
                if !b.windows(id.len()).any(|w| w == id.as_bytes()) {
                    continue;
                }
            }
            rule.seen += 1;
            if rule.nth.is_some_and(|n| n != rule.seen) {
                continue;
            }
            if let Some(left) = rule.times.as_mut() {
                if *left == 0 {
                    continue;
                }
                *left -= 1;
            }
            if rule.probability < 1.0 && rand::random::<f64>() >= rule.probability {
                continue;
            }
            tracing::info!(method, principal, "fault injected");
            return Some(Effect {
                latency: rule.latency,
                status: rule.code.map(|c| Status::new(c, rule.message.clone())),
            });
        }
        None
    }

    /// Applies the effect of the matching rule, if any: waits its latency, then fails the call.
    pub async fn apply<Req: prost::Message>(
        &self,
        method: &str,
        principal: &str,
        request: &Req,
    ) -> Result<(), Status> {
        let Some(effect) = self.effect(method, principal, || request.encode_to_vec()) else {
            return Ok(());
        };
        if !effect.latency.is_zero() {
            tokio::time::sleep(effect.latency).await;
        }
        effect.status.map_or(Ok(()), Err)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rules_match_by_method_glob_count_and_resource() {
        let f = Faults::default();
        let mut r = Rule::new("MarkPartForRestart").unwrap();
        r.times = Some(2);
        f.add(r);
        let mut nth = Rule::new("get*").unwrap();
        nth.nth = Some(2);
        nth.resource = Some("robot-7".into());
        nth.code = Some(Code::NotFound);
        f.add(nth);
        let hit = |m: &str, body: &str| {
            f.effect(m, "key", || body.as_bytes().to_vec())
                .map(|e| e.status.unwrap().code())
        };
        assert_eq!(hit("mark_part_for_restart", ""), Some(Code::Unavailable));
        assert_eq!(hit("mark_part_for_restart", ""), Some(Code::Unavailable));
        assert_eq!(hit("mark_part_for_restart", ""), None, "times = 2");
        assert_eq!(hit("get_robot", "robot-1"), None, "another resource");
        assert_eq!(
            hit("get_robot", "..robot-7.."),
            None,
            "the first matching call"
        );
        assert_eq!(
            hit("get_robot", "..robot-7.."),
            Some(Code::NotFound),
            "the second"
        );
        assert_eq!(hit("get_robot", "..robot-7.."), None, "only the second");
        assert_eq!(hit("list_robots", ""), None);
        assert!(Rule::new("[").is_err());
    }

    fn fields(json: &str) -> Map<String, Value> {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn rules_from_fields_and_back() {
        let r = Rule::from_fields(&fields(
            r#"{"method": "Get*", "code": "NOT_FOUND", "message": "gone", "latency": "250ms",
                "probability": 0.5, "nth": 2, "times": 3, "principal": "k", "resource": "r"}"#,
        ))
        .unwrap();
        assert_eq!(r.code, Some(Code::NotFound));
        assert_eq!(r.latency, Duration::from_millis(250));
        assert_eq!((r.nth, r.times, r.probability), (Some(2), Some(3), 0.5));
        assert_eq!(Rule::from_fields(&r.fields()).unwrap().fields(), r.fields());
        let slow = Rule::from_fields(&fields(r#"{"method": "*", "code": "OK", "latency": 1.5}"#));
        let slow = slow.unwrap();
        assert_eq!(
            (slow.code, slow.latency),
            (None, Duration::from_millis(1500))
        );
        let default = Rule::from_fields(&fields(r#"{"method": "X"}"#)).unwrap();
        assert_eq!(default.code, Some(Code::Unavailable));
    }

    #[test]
    fn a_bad_field_is_named() {
        for (json, field, says) in [
            (r#"{}"#, "method", "required"),
            (r#"{"method": ""}"#, "method", "required"),
            (r#"{"method": "["}"#, "method", "not a glob"),
            (
                r#"{"method": "X", "code": "UNAVAIL"}"#,
                "code",
                "not a gRPC code name",
            ),
            (
                r#"{"method": "X", "latency": "soon"}"#,
                "latency",
                "not a duration",
            ),
            (
                r#"{"method": "X", "latency": -1}"#,
                "latency",
                "expected seconds",
            ),
            (
                r#"{"method": "X", "probability": 2}"#,
                "probability",
                "from 0 to 1",
            ),
            (r#"{"method": "X", "nth": 0}"#, "nth", "at least 1"),
            (
                r#"{"method": "X", "times": "two"}"#,
                "times",
                "whole number",
            ),
            (
                r#"{"method": "X", "mesage": "typo"}"#,
                "mesage",
                "unknown field",
            ),
            (r#"{"method": 7}"#, "method", "expected a string"),
        ] {
            let e = Rule::from_fields(&fields(json)).unwrap_err();
            assert_eq!(e.field, field, "{json}: {e}");
            assert!(e.message.contains(says), "{json}: {e}");
        }
    }

    #[test]
    fn files_in_toml_and_json_name_the_rule_that_is_wrong() {
        let toml = "[[faults]]\nmethod = \"Get*\"\n\n[[faults]]\nmethod = \"X\"\ncode = \"NOPE\"\n";
        let e = rules_from_file(Path::new("f.toml"), toml).unwrap_err();
        assert!(e.starts_with("f.toml: rule 2: field 'code': 'NOPE'"), "{e}");
        let ok = rules_from_file(Path::new("f.toml"), &toml.replace("NOPE", "INTERNAL")).unwrap();
        assert_eq!(ok.len(), 2);
        let json = r#"[{"method": "A", "times": 1}]"#;
        assert_eq!(
            rules_from_file(Path::new("f.json"), json).unwrap()[0].times,
            Some(1)
        );
        let wrapped = format!(r#"{{"faults": {json}}}"#);
        assert_eq!(
            rules_from_file(Path::new("f.json"), &wrapped)
                .unwrap()
                .len(),
            1
        );
        assert!(
            rules_from_file(Path::new("f.yaml"), json)
                .unwrap_err()
                .contains(".toml or .json")
        );
    }

    #[test]
    fn ids_are_given_listed_and_cleared() {
        let f = Faults::default();
        let a = f.add(Rule::new("A").unwrap());
        let b = f.add(Rule::new("B").unwrap());
        assert_ne!(a, b);
        assert_eq!(f.remove(&[a.clone(), "fault-99".into()]), ["fault-99"]);
        assert_eq!(f.list().len(), 2, "nothing removed when an id is unknown");
        assert!(f.remove(std::slice::from_ref(&a)).is_empty());
        let left: Vec<String> = f.list().into_iter().map(|r| r.id).collect();
        assert_eq!(left, [b]);
    }
}
