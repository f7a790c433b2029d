//! Which fleet and which defaults a run gets: the embedded fleet follows the same rule for
//! `org_id`/`location_id` as a remote (the profile's default, else the only one, else an error
//! listing them), and the credentials sources in their order.

use std::path::Path;
use std::process::Stdio;

use crate::harness::TestServer;
use crate::lua::{args, assert_exit, command, fleetsh, local, text};

#[tokio::test]
async fn the_embedded_fleet_guesses_no_location() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = fleetsh(local(d, &["-e", "cloud.create_location('second')"]), None).await;
    assert_exit(&out, 0);

    // Two locations: no default, as over --url on the same data.
    let out = fleetsh(local(d, &["-e", "cloud.new_robot('x')"]), None).await;
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("new_robot: FAILED_PRECONDITION: several locations")
            && err.contains("(Main)")
            && err.contains("(second)"),
        "{err}"
    );

    // With `Main` gone, defaulted calls use the one that is left.
    let delete_main = "for _, l in ipairs(cloud.list_locations()) do \
                       if l.name == 'Main' then cloud.delete_location(l.id) end end";
    let out = fleetsh(local(d, &["-e", delete_main]), None).await;
    assert_exit(&out, 0);
    let check = "local id = cloud.new_robot('x') \
                 print(cloud.get_location(cloud.get_robot(id).location).name, #cloud.list_robots())";
    let out = fleetsh(local(d, &["-e", check]), None).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "second\t1\n");
}

#[tokio::test]
async fn the_embedded_fleet_guesses_no_organization() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = fleetsh(
        local(d, &["-e", "cloud.create_organization('other')"]),
        None,
    )
    .await;
    assert_exit(&out, 0);
    let out = fleetsh(local(d, &["-e", "cloud.list_locations()"]), None).await;
    assert_exit(&out, 1);
    let err = text(&out.stderr);
    assert!(
        err.contains("FAILED_PRECONDITION")
            && err.contains("pass org_id")
            && err.contains("(other)"),
        "{err}"
    );
}

/// A fake `viam login api-key` cache in `home/.viam` (the Viam CLI's format).
fn viam_login(home: &Path, file: &str, url: &str, key_id: &str, key: &str, org: &str) {
    let dir = home.join(".viam");
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = serde_json::json!({
        "base_url": url,
        "auth": { "key_id": key_id, "key_crypto": key },
        "last_update_check": "", "latest_version": "",
        "default_org": org, "default_location": "",
    });
    std::fs::write(dir.join(file), cfg.to_string()).unwrap();
}

/// The binary with HOME (and so `~/.viam`) in `home` and no VIAM_HOME, plus `envs`.
async fn with_home(home: &Path, a: &[&str], envs: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = command(&args(a), envs);
    cmd.env("HOME", home)
        .env_remove("VIAM_HOME")
        .env_remove("VIAM_CLI_PROFILE_NAME")
        .envs(envs.iter().copied());
    tokio::task::spawn_blocking(move || cmd.stdin(Stdio::null()).output().unwrap())
        .await
        .unwrap()
}

#[tokio::test]
async fn the_viam_cli_login_is_a_credentials_source_after_fleetshs_own() {
    let s = TestServer::start().await;
    let c = &s.fleet.credentials;
    let home = tempfile::tempdir().unwrap();
    let h = home.path();
    viam_login(
        h,
        "cached_cli_config.json",
        &c.address,
        &c.api_key_id,
        &c.api_key,
        s.org_id(),
    );
    let data = h.join("data").display().to_string();
    let chunk = "print(cloud.default_org_id(), #cloud.list_locations())";

    let out = with_home(h, &["--data", &data, "-e", chunk], &[]).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), format!("{}\t1\n", s.org_id()));
    let err = text(&out.stderr);
    let file = h.join(".viam/cached_cli_config.json");
    assert!(
        err.contains(&format!("from the Viam CLI login in {}", file.display()))
            && err.contains(&c.api_key_id)
            && !err.contains("local fleet"),
        "{err}"
    );
    assert!(!err.contains(&c.api_key), "the key is never printed");

    // VIAM_CLI_PROFILE_NAME picks the profile's login; a refused key says where it came from.
    viam_login(
        h,
        "lab_cached_cli_config.json",
        &c.address,
        &c.api_key_id,
        "wrong",
        "",
    );
    let out = with_home(h, &["-e", chunk], &[("VIAM_CLI_PROFILE_NAME", "lab")]).await;
    assert_exit(&out, 3);
    let err = text(&out.stderr);
    assert!(
        err.contains("the Viam CLI profile lab in") && err.contains("viam login api-key"),
        "{err}"
    );

    // fleetsh's own sources come first: flags, and a named profile.
    let dead = crate::harness::dead_url();
    let out = with_home(
        h,
        &[
            "--url",
            &dead,
            "--api-key-id",
            "a",
            "--api-key",
            "b",
            "-e",
            chunk,
        ],
        &[],
    )
    .await;
    assert_exit(&out, 3);
    assert!(text(&out.stderr).contains(&dead));

    // A browser login (a token, no API key) is not used: the local fleet is.
    std::fs::write(
        h.join(".viam/cached_cli_config.json"),
        r#"{"base_url":"https://app.viam.com:443","auth":{"access_token":"t","user_data":{"email":"a@b"}}}"#,
    )
    .unwrap();
    let out = with_home(h, &["--data", &data, "-e", chunk], &[]).await;
    assert_exit(&out, 0);
    assert!(
        text(&out.stderr).contains("local fleet at"),
        "{}",
        text(&out.stderr)
    );

    // A malformed login is an error naming the file, not silently skipped.
    std::fs::write(h.join(".viam/cached_cli_config.json"), "{not json").unwrap();
    let out = with_home(h, &["--data", &data, "-e", chunk], &[]).await;
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("cached_cli_config.json is malformed"));
}
