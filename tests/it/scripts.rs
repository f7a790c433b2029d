//! scripts/*.lua end to end: each seeds a fresh local fleet, runs the chore (and its dry run)
//! through the binary, and asserts the fleet's state afterwards; no secret of the fleet may
//! appear in any output, plan or audit file.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use crate::harness::TestServer;
use crate::lua::{BIN, assert_exit, fleetsh, local, remote, text};

fn script(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("scripts")
        .join(name)
        .display()
        .to_string()
}

/// A fleet in a temp dir; every run appends to one audit file.
struct Fleet {
    dir: tempfile::TempDir,
    outputs: Vec<String>,
}

impl Fleet {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            outputs: Vec::new(),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn keep(&mut self, out: &Output) {
        self.outputs.push(text(&out.stdout));
        self.outputs.push(text(&out.stderr));
    }

    /// `fleetsh [flags] run scripts/NAME ARGS` with --audit.
    async fn chore(&mut self, flags: &[&str], name: &str, script_args: &[&str]) -> Output {
        let audit = self.path("audit.jsonl").display().to_string();
        let mut rest: Vec<String> = vec!["-q".into(), "--audit".into(), audit];
        rest.extend(flags.iter().map(|s| s.to_string()));
        rest.push("run".into());
        rest.push(script(name));
        rest.extend(script_args.iter().map(|s| s.to_string()));
        let rest: Vec<&str> = rest.iter().map(String::as_str).collect();
        let out = fleetsh(local(self.dir.path(), &rest), None).await;
        self.keep(&out);
        out
    }

    /// Runs a Lua chunk (seeding or reading state); must succeed; returns stdout.
    async fn lua(&mut self, code: &str) -> String {
        let out = fleetsh(local(self.dir.path(), &["-q", "-e", code]), None).await;
        assert_exit(&out, 0);
        text(&out.stdout)
    }

    async fn json(&mut self, code: &str) -> serde_json::Value {
        serde_json::from_str(&self.lua(code).await).unwrap()
    }

    /// Every part and location secret of the fleet, revealed on purpose, plus `extra`; none may
    /// appear in the outputs or the audit file collected so far.
    async fn assert_no_secrets(&mut self, extra: &[String]) {
        let code = r#"
            local out = {}
            for _, l in ipairs(cloud.list_locations()) do
              for _, s in ipairs(cloud.location_auth(l.id).secrets) do out[#out + 1] = s.secret:reveal() end
              for _, r in ipairs(cloud.list_robots(l.id)) do
                for _, p in ipairs(cloud.get_robot_parts(r.id)) do out[#out + 1] = cloud.reveal(p.secret) end
              end
            end
            print(table.concat(out, "\n"))
        "#;
        let mut secrets: Vec<String> = self.lua(code).await.lines().map(String::from).collect();
        secrets.extend(extra.iter().cloned());
        let audit = std::fs::read_to_string(self.path("audit.jsonl")).unwrap_or_default();
        for s in secrets.iter().filter(|s| !s.is_empty()) {
            assert!(s.len() >= 16, "not a real secret: {s:?}");
            for o in self.outputs.iter().chain([&audit]) {
                assert!(!o.contains(s.as_str()), "a secret leaked:\n{o}");
            }
        }
    }
}

fn names(v: &serde_json::Value) -> Vec<String> {
    let mut n: Vec<String> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect();
    n.sort();
    n
}

const KEY_NAMES: &str = r#"
    local n = {}
    for _, k in ipairs(cloud.list_keys()) do n[#n + 1] = k.api_key.name end
    print(json.encode(n))
"#;

#[tokio::test]
async fn rotate_keys_survives_a_failure_halfway_and_re_runs() {
    let mut f = Fleet::new();
    let old_id = f
        .lua(
            r#"local _, id = cloud.create_key({{role = "operator", resource_type = "location",
                resource_id = cloud.get_location().id}}, "ci") print(id)"#,
        )
        .await
        .trim()
        .to_string();
    let before = names(&f.json(KEY_NAMES).await);
    let rotated = format!("ci (rotated from {old_id})");

    // Dry run: the plan shows a new key and the deletion; nothing changes, no file is written.
    let out_file = f.path("keys.json").display().to_string();
    let out = f
        .chore(
            &["--dry-run"],
            "rotate_keys.lua",
            &["name=ci", &format!("out={out_file}")],
        )
        .await;
    assert_exit(&out, 7);
    let plan = text(&out.stdout);
    assert!(
        plan.contains("create_key {") && plan.contains("delete_key {"),
        "{plan}"
    );
    assert!(plan.contains(&old_id));
    assert_eq!(names(&f.json(KEY_NAMES).await), before);
    assert!(!f.path("keys.json").exists());

    // Failure halfway: the replacement is created but its key cannot be saved.
    let missing = f.path("missing/keys.json").display().to_string();
    let args = ["name=ci".to_string(), format!("out={missing}")];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = f.chore(&[], "rotate_keys.lua", &args).await;
    assert_exit(&out, 6);
    assert!(text(&out.stderr).contains("write_private"));
    let now = names(&f.json(KEY_NAMES).await);
    assert!(now.contains(&"ci".to_string()), "the old key is kept");
    assert!(now.contains(&rotated), "an unsaved replacement exists");

    // Re-run: the unsaved replacement is replaced, the new key saved and checked, the old deleted.
    std::fs::create_dir(f.path("missing")).unwrap();
    let out = f.chore(&[], "rotate_keys.lua", &args).await;
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("1 rotated, 0 failed"));
    let after = names(&f.json(KEY_NAMES).await);
    assert!(!after.contains(&"ci".to_string()));
    assert_eq!(
        after.iter().filter(|n| **n == rotated).count(),
        1,
        "{after:?}"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&missing).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&missing).unwrap()).unwrap();
    let entry = &saved[&old_id];
    let (new_id, new_key) = (
        entry["id"].as_str().unwrap(),
        entry["key"].as_str().unwrap(),
    );
    let check = f
        .lua(&format!(
            r#"print(cloud.check_key("{new_id}", "{new_key}"))
               for _, k in ipairs(cloud.list_keys()) do
                 if k.api_key.id == "{new_id}" then
                   local a = k.authorizations[1]
                   print(#k.authorizations, a.authorization_id, a.resource_id == cloud.get_location().id)
                 end
               end"#
        ))
        .await;
    assert_eq!(check, "true\tnil\n1\tlocation_operator\ttrue\n");

    // Again: nothing left to rotate.
    let out = f.chore(&[], "rotate_keys.lua", &args).await;
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("0 rotated"));
    assert_eq!(names(&f.json(KEY_NAMES).await), after);
    f.assert_no_secrets(&[new_key.to_string()]).await;
}

/// (machine name, restart_requested) of every part, read from the fleet's database.
fn restart_flags(dir: &Path) -> Vec<(String, i64)> {
    let db = rusqlite::Connection::open(dir.join("fleet.db")).unwrap();
    let mut st = db
        .prepare("SELECT r.name, p.restart_requested FROM parts p JOIN robots r ON r.id = p.robot_id ORDER BY r.name")
        .unwrap();
    st.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

#[tokio::test]
async fn restart_parts_marks_matching_parts() {
    let mut f = Fleet::new();
    f.lua(r#"for _, n in ipairs({"cam-1", "cam-2", "arm-1"}) do cloud.new_robot(n) end"#)
        .await;
    let out = f
        .chore(&["--dry-run"], "restart_parts.lua", &["match=cam-*"])
        .await;
    assert_exit(&out, 7);
    assert_eq!(
        text(&out.stdout).matches("mark_part_for_restart {").count(),
        2
    );
    assert!(
        text(&out.stdout).contains("2 of 2 part(s) planned for restart (none sent)"),
        "{}",
        text(&out.stdout)
    );
    assert!(restart_flags(f.dir.path()).iter().all(|(_, r)| *r == 0));

    let out = f.chore(&[], "restart_parts.lua", &["match=cam-*"]).await;
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("2 of 2 part(s) marked for restart, 0 failed"));
    assert_eq!(
        restart_flags(f.dir.path()),
        vec![
            ("arm-1".into(), 0),
            ("cam-1".into(), 1),
            ("cam-2".into(), 1)
        ]
    );
    f.assert_no_secrets(&[]).await;
}

#[tokio::test]
async fn sync_fragment_updates_only_when_the_file_differs() {
    let mut f = Fleet::new();
    let id = f
        .lua(r#"print(cloud.create_fragment("base", {a = 1, nested = {x = "y"}}).id)"#)
        .await
        .trim()
        .to_string();
    let file = f.path("base.json");
    std::fs::write(&file, r#"{"nested": {"x": "y"}, "a": 1}"#).unwrap();
    let args = [format!("fragment={id}"), format!("file={}", file.display())];
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let revision = format!(r#"print(cloud.get_fragment("{id}").revision)"#);
    let rev0 = f.lua(&revision).await;

    let out = f.chore(&["--dry-run"], "sync_fragment.lua", &args).await;
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("up to date"));

    std::fs::write(&file, r#"{"a": 2, "nested": {"x": "z"}, "list": [1, 2]}"#).unwrap();
    let out = f.chore(&["--dry-run"], "sync_fragment.lua", &args).await;
    assert_exit(&out, 7);
    assert!(text(&out.stdout).contains("last_known_update"));
    assert_eq!(f.lua(&revision).await, rev0, "the dry run changed nothing");

    let out = f.chore(&[], "sync_fragment.lua", &args).await;
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("updated"));
    let cfg = f
        .json(&format!(
            r#"print(json.encode(cloud.get_fragment("{id}").fragment))"#
        ))
        .await;
    assert_eq!(
        cfg,
        serde_json::json!({"a": 2, "nested": {"x": "z"}, "list": [1, 2]})
    );
    let rev1 = f.lua(&revision).await;
    assert_ne!(rev1, rev0);

    let out = f.chore(&[], "sync_fragment.lua", &args).await;
    assert_exit(&out, 0);
    assert!(text(&out.stdout).contains("up to date"));
    assert_eq!(f.lua(&revision).await, rev1);
}

#[tokio::test]
async fn inventory_exports_a_location_tree_as_json_and_csv() {
    let mut f = Fleet::new();
    f.lua(
        r#"local site = cloud.create_location("site")
           local bay = cloud.create_location("bay", site.id)
           cloud.new_robot("rover", bay.id)"#,
    )
    .await;
    let out = f
        .chore(&["--dry-run", "--output", "json"], "inventory.lua", &[])
        .await;
    assert_exit(&out, 0);
    let stdout = text(&out.stdout);
    // With --output json stdout stays JSON: the inventory, then the dry run's (empty) plan as a second document.
    let mut docs = serde_json::Deserializer::from_str(&stdout).into_iter::<serde_json::Value>();
    let inv = docs.next().unwrap().unwrap();
    let plan = docs.next().unwrap().unwrap();
    assert_eq!(plan["dry_run"], true, "{stdout}");
    assert_eq!(plan["plan"], serde_json::json!([]), "{stdout}");
    let locs = inv["organizations"][0]["locations"].as_array().unwrap();
    let site = locs.iter().find(|l| l["name"] == "site").unwrap();
    let bay = &site["locations"][0];
    assert_eq!(bay["name"], "bay");
    assert_eq!(bay["machines"][0]["name"], "rover");
    assert_eq!(bay["machines"][0]["parts"][0]["main_part"], true);

    let csv = f.path("inv.csv");
    let arg = format!("out={}", csv.display());
    let out = f.chore(&[], "inventory.lua", &["format=csv", &arg]).await;
    assert_exit(&out, 0);
    let csv = std::fs::read_to_string(&csv).unwrap();
    assert!(csv.starts_with("organization_id,organization,location_path,"));
    let row = csv.lines().find(|l| l.contains(",site/bay,")).unwrap();
    assert!(row.contains(",rover,") && row.contains(",true,"), "{row}");
    f.outputs.push(csv.clone());
    f.assert_no_secrets(&[]).await;
}

#[tokio::test]
async fn audit_access_lists_grants_and_flags_risky_keys() {
    let mut f = Fleet::new();
    f.lua(
        r#"cloud.create_key({{role = "owner", resource_type = "organization", resource_id = cloud.default_org_id()}}, "admin")
           cloud.create_key({{role = "operator", resource_type = "location", resource_id = cloud.get_location().id}}, "ops")"#,
    )
    .await;
    let out = f.chore(&["--dry-run"], "audit_access.lua", &[]).await;
    assert_exit(&out, 0);
    let report = text(&out.stdout);
    assert!(
        report
            .lines()
            .any(|l| l.starts_with("operator") && l.contains("key ops")),
        "{report}"
    );
    assert!(report.contains("FLAG key admin") && report.contains("organization-wide owner"));
    assert!(!report.contains("FLAG key ops"), "{report}");

    let out = f
        .chore(&[], "audit_access.lua", &["days=0", "format=json"])
        .await;
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_str(&text(&out.stdout)).unwrap();
    let flags = v["flags"].as_array().unwrap();
    assert!(flags.iter().any(|x| {
        x["who"].as_str().unwrap().starts_with("key ops")
            && x["reason"]
                .as_str()
                .unwrap()
                .starts_with("older than 0 days")
    }));
    f.assert_no_secrets(&[]).await;
}

#[tokio::test]
async fn cleanup_locations_deletes_empty_matching_trees_only() {
    let mut f = Fleet::new();
    f.lua(
        r#"cloud.create_location("tmp-a")
           local b = cloud.create_location("tmp-b") cloud.create_location("tmp-c", b.id)
           local d = cloud.create_location("tmp-d") cloud.new_robot("busy", d.id)
           local e = cloud.create_location("tmp-e") cloud.create_location("other", e.id)
           cloud.create_location("keep")"#,
    )
    .await;
    let list = r#"local n = {} for _, l in ipairs(cloud.list_locations()) do n[#n + 1] = l.name end print(json.encode(n))"#;
    let before = names(&f.json(list).await);

    let out = f
        .chore(&["--dry-run"], "cleanup_locations.lua", &["match=tmp-*"])
        .await;
    assert_exit(&out, 7);
    let plan = text(&out.stdout);
    assert_eq!(plan.matches("delete_location {").count(), 3);
    // A planned change is reported as planned, and each plan line names what it touches.
    assert!(
        plan.contains("cleanup_locations: 3 planned for deletion (none sent)"),
        "{plan}"
    );
    assert!(!plan.contains("deleted"), "{plan}");
    for name in ["tmp-a", "tmp-b", "tmp-c"] {
        assert!(
            plan.contains(&format!("\"}}  # {name}\n")),
            "{name}: {plan}"
        );
    }
    assert_eq!(names(&f.json(list).await), before);

    let out = f
        .chore(&[], "cleanup_locations.lua", &["match=tmp-*"])
        .await;
    assert_exit(&out, 0);
    let mut want: Vec<String> = before
        .iter()
        .filter(|n| !["tmp-a", "tmp-b", "tmp-c"].contains(&n.as_str()))
        .cloned()
        .collect();
    want.sort();
    assert_eq!(names(&f.json(list).await), want);
    // Usage error without a pattern.
    assert_exit(&f.chore(&[], "cleanup_locations.lua", &[]).await, 2);
    // A fleetsh flag after the path reaches the script, which says where it belongs.
    let out = f
        .chore(&[], "cleanup_locations.lua", &["match=tmp-*", "--dry-run"])
        .await;
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr)
            .contains("--dry-run is a fleetsh option: put it before the script's path"),
        "{}",
        text(&out.stderr)
    );
    f.assert_no_secrets(&[]).await;
}

#[tokio::test]
async fn tail_errors_follows_every_part_of_a_location() {
    let s = TestServer::start().await;
    let mut app = s.owner().await;
    let mut parts = Vec::new();
    for name in ["m1", "m2"] {
        let (_, part) = crate::parts::machine(&mut app, &s, name).await;
        parts.push(part);
    }
    let loc = format!("location={}", s.location_id());
    let path = script("tail_errors.lua");
    // Each error entry is also posted to a webhook.
    let (hook, posts) = crate::lua_helpers::webhook_sink(2).await;
    let hook = format!("webhook={hook}");
    let args = remote(&s, &["--timeout", "6s", "run", &path, &loc, &hook]);
    let child = tokio::task::spawn_blocking(move || {
        std::process::Command::new(BIN)
            .args(&args)
            .output()
            .unwrap()
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    for (i, part) in parts.iter().enumerate() {
        let mut robot = crate::logs::as_part(&s, &mut app, part).await;
        let logs = vec![
            crate::logs::entry("error", &format!("boom{i}"), now),
            crate::logs::entry("info", &format!("calm{i}"), now),
        ];
        robot.log(crate::logs::push(part, logs)).await.unwrap();
    }
    let out = child.await.unwrap();
    assert_exit(&out, 5);
    let stdout = text(&out.stdout);
    for (i, m) in ["m1", "m2"].iter().enumerate() {
        let line = stdout
            .lines()
            .find(|l| l.contains(&format!("boom{i}")))
            .unwrap_or_else(|| panic!("no line for {m}: {stdout}"));
        assert!(line.starts_with(&format!("{m}/")), "{line}");
        assert!(line.contains(" error "), "{line}");
    }
    assert!(!stdout.contains("calm"), "errors only: {stdout}");
    let mut posted: Vec<serde_json::Value> = posts
        .await
        .unwrap()
        .iter()
        .map(|b| serde_json::from_str(b).unwrap())
        .collect();
    posted.sort_by_key(|p| p["machine"].as_str().unwrap_or("").to_string());
    assert_eq!(posted.len(), 2, "{posted:?}");
    for (i, p) in posted.iter().enumerate() {
        assert_eq!(p["machine"], format!("m{}", i + 1));
        assert_eq!(p["message"], format!("boom{i}"));
        assert_eq!(p["level"], "error");
    }
}

#[tokio::test]
async fn fleet_status_groups_machines_says_how_long_they_are_offline_and_posts_them() {
    let mut f = Fleet::new();
    f.lua(
        r#"local main = cloud.list_locations()[1].id
           local lab = cloud.create_location("lab")
           for _, spec in ipairs({ { "rover-1", lab.id }, { "rover-2", lab.id }, { "arm-1", main } }) do
             local part = cloud.get_robot_parts(cloud.new_robot(spec[1], spec[2]))[1].id
             if spec[1] ~= "rover-2" then
               cloud.robot.config { id = part, agent_info = { host = "h", os = "linux", version = "0.50.0",
                 platform = "linux/arm64" } }
             end
           end"#,
    )
    .await;
    // rover-1 was last seen three hours ago (the fleet has no clock to move yet: the test
    // writes the time it reported).
    let db = rusqlite::Connection::open(f.dir.path().join("fleet.db")).unwrap();
    let three_hours_ago = (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
        - 3 * 3600)
        * 1_000_000_000;
    db.execute(
        "UPDATE parts SET last_access = ?1 WHERE robot_id = (SELECT id FROM robots WHERE name = 'rover-1')",
        [three_hours_ago],
    )
    .unwrap();
    drop(db);

    let out = f.chore(&[], "fleet_status.lua", &[]).await;
    assert_exit(&out, 0);
    let shown = text(&out.stdout);
    let lab = shown
        .find("\nlab\n")
        .unwrap_or_else(|| panic!("grouped by location: {shown}"));
    assert!(shown.starts_with("Main\n  arm-1 "), "{shown}");
    let rover1 = shown.lines().find(|l| l.contains("rover-1")).unwrap();
    assert!(rover1.contains("offline for 3h"), "{rover1}");
    assert!(
        rover1.contains("viam-server 0.50.0 linux/arm64"),
        "{rover1}"
    );
    assert!(
        shown[lab..].contains("rover-2") && shown.contains("never seen"),
        "{shown}"
    );
    assert!(
        shown.contains("3 machine(s) listed, 2 not online"),
        "{shown}"
    );

    let out = f
        .chore(
            &[],
            "fleet_status.lua",
            &["format=json", "offline_only=true"],
        )
        .await;
    assert_exit(&out, 0);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let names: Vec<&str> = v["machines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["machine"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rover-1", "rover-2"]);
    let secs = v["machines"][0]["offline_seconds"].as_i64().unwrap();
    assert!((3 * 3600..3 * 3600 + 120).contains(&secs), "{secs}");

    let out = f.chore(&[], "fleet_status.lua", &["format=csv"]).await;
    assert_exit(&out, 0);
    let csv = text(&out.stdout);
    assert!(
        csv.starts_with("location,machine,state,offline_seconds,last_online,version,os,platform\n")
    );
    assert_eq!(csv.lines().count(), 4, "{csv}");

    let (hook, posts) = crate::lua_helpers::webhook_sink(1).await;
    let hook = format!("webhook={hook}");
    let out = f
        .chore(&[], "fleet_status.lua", &["offline_only=true", &hook])
        .await;
    assert_exit(&out, 0);
    let posted: serde_json::Value = serde_json::from_str(&posts.await.unwrap()[0]).unwrap();
    let down: Vec<&str> = posted["not_online"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["machine"].as_str().unwrap())
        .collect();
    assert_eq!(down, ["rover-1", "rover-2"]);
    assert!(posted["organization"].is_string());
    f.assert_no_secrets(&[]).await;
}
