//! `t.run(script, args, opts)`: a chore run the way cron runs it — the fleetsh binary in a
//! child process, against the test's own fleet over loopback, with an audit file — returning
//! its exit code, stdout, stderr, the audit lines and the plan (the audit's planned calls).

use std::path::{Path, PathBuf};
use std::process::Stdio;

use mlua::{Lua, LuaSerdeExt, Table, Value as Lv};

/// Where the test's fleet answers, set for each test.
#[derive(Clone)]
pub struct ChoreTarget {
    pub url: String,
    pub key_id: String,
    pub key: String,
    /// The test's temp directory (audit files land there).
    pub dir: PathBuf,
    /// The test file's directory: a script path that is not found as given is tried there.
    pub base: PathBuf,
}

fn script_path(script: &str, base: &Path) -> PathBuf {
    let p = PathBuf::from(script);
    if p.exists() || p.is_absolute() {
        p
    } else {
        base.join(p)
    }
}

/// The words of the command line: array items as they are, then `{days = 90}` as `days=90`
/// (keys sorted); a list value repeats its key, `{location = {"a", "b"}}` as `location=a
/// location=b` in the list's order, as a script's repeated `key=value` words are given.
fn words(args: Option<Table>) -> mlua::Result<Vec<String>> {
    let Some(t) = args else { return Ok(Vec::new()) };
    let mut positional = Vec::new();
    let mut named = Vec::new();
    for pair in t.pairs::<Lv, Lv>() {
        let (k, v) = pair?;
        match k {
            Lv::Integer(i) => positional.push((i, word(&v, &i.to_string())?)),
            other => {
                let k = other.to_string()?;
                let values = match v {
                    Lv::Table(list) => list_words(&list, &k)?,
                    v => vec![word(&v, &k)?],
                };
                named.push((k, values));
            }
        }
    }
    positional.sort();
    named.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(positional
        .into_iter()
        .map(|(_, v)| v)
        .chain(
            named
                .into_iter()
                .flat_map(|(k, vs)| vs.into_iter().map(move |v| format!("{k}={v}"))),
        )
        .collect())
}

/// One value as its word: a string, number or boolean.
fn word(v: &Lv, key: &str) -> mlua::Result<String> {
    match v {
        Lv::String(_) | Lv::Integer(_) | Lv::Number(_) | Lv::Boolean(_) => v.to_string(),
        other => Err(mlua::Error::runtime(format!(
            "t.run: argument {key}: a string, number, boolean or a list of them, not a {}",
            other.type_name()
        ))),
    }
}

/// The items of a list value; a table with other keys is refused rather than half-passed.
fn list_words(list: &Table, key: &str) -> mlua::Result<Vec<String>> {
    let n = list.raw_len();
    if list.pairs::<Lv, Lv>().count() != n {
        return Err(mlua::Error::runtime(format!(
            "t.run: argument {key}: a list ({{\"a\", \"b\"}}: {key}=a {key}=b), not a table with keys"
        )));
    }
    (1..=n).map(|i| word(&list.raw_get(i)?, key)).collect()
}

pub async fn run(
    lua: Lua,
    script: String,
    args: Option<Table>,
    opts: Option<Table>,
) -> mlua::Result<Table> {
    let Some(target) = lua.app_data_ref::<ChoreTarget>().map(|t| t.clone()) else {
        return Err(mlua::Error::runtime("t.run: only inside a test"));
    };
    let path = script_path(&script, &target.base);
    if !path.is_file() {
        return Err(mlua::Error::runtime(format!(
            "t.run: no script {}",
            path.display()
        )));
    }
    let audit = target
        .dir
        .join(format!("audit-{}.jsonl", crate::run::run_id()));
    let mut cmd = tokio::process::Command::new(
        std::env::current_exe().map_err(|e| mlua::Error::runtime(format!("t.run: {e}")))?,
    );
    // The chore sees what cron would give it: the target in the environment, nothing ambient.
    for var in [
        "FLEETSH_URL",
        "FLEETSH_DATA",
        "FLEETSH_PROFILE",
        "VIAM_CLI_PROFILE_NAME",
        "RUST_LOG",
    ] {
        cmd.env_remove(var);
    }
    cmd.env("VIAM_API_KEY_ID", &target.key_id)
        .env("VIAM_API_KEY", &target.key)
        .env("FLEETSH_CONFIG", target.dir.join("no-config.toml"))
        .env("VIAM_HOME", target.dir.join("no-viam-home"))
        .arg("--url")
        .arg(&target.url)
        .arg("--audit")
        .arg(&audit);
    if let Some(o) = &opts {
        if o.get::<Option<bool>>("dry_run")?.unwrap_or(false) {
            cmd.arg("--dry-run");
        }
        if let Some(t) = o.get::<Option<String>>("timeout")? {
            cmd.arg("--timeout").arg(t);
        }
    }
    cmd.arg("run").arg(&path).args(words(args)?);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let out = cmd
        .output()
        .await
        .map_err(|e| mlua::Error::runtime(format!("t.run {}: {e}", path.display())))?;
    let result = lua.create_table()?;
    result.set("code", out.status.code().unwrap_or(-1))?;
    result.set("stdout", lua.create_string(&out.stdout)?)?;
    result.set("stderr", lua.create_string(&out.stderr)?)?;
    let audit_lines = lua.create_table()?;
    let plan = lua.create_table()?;
    let text = std::fs::read_to_string(&audit).unwrap_or_default();
    for line in text.lines() {
        let Ok(v) = serde_json::from_str::<serde_json::Value>(line) else {
            continue;
        };
        let planned = v["outcome"] == "planned";
        let entry = lua.to_value(&v)?;
        if planned {
            plan.raw_push(entry.clone())?;
        }
        audit_lines.raw_push(entry)?;
    }
    result.set("audit", audit_lines)?;
    result.set("plan", plan)?;
    Ok(result)
}
