//! Faults a test injects into the local fleet: rules that make chosen calls fail or slow down,
//! checked before the handler runs (call.rs). A rule names the calls by RPC (a glob, any case:
//! `MarkPartForRestart`, `Get*`), optionally by principal (the key or part id of the caller)
//! or by a resource id anywhere in the request; it answers a code and message, after a
//! latency, on the next K matching calls (`times`), on the Nth one only (`nth`), or with a
//! probability.

use std::sync::Mutex;
use std::time::Duration;

use tonic::{Code, Status};

#[derive(Debug, Clone)]
pub struct Rule {
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
}

#[derive(Default)]
pub struct Faults {
    rules: Mutex<Vec<Rule>>,
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
    pub fn add(&self, rule: Rule) {
        self.lock().push(rule);
    }

    pub fn clear(&self) {
        self.lock().clear();
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
}
