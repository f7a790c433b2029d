//! Named profiles: `fleetsh profile add/list/remove`, `--profile`, precedence and errors.

use std::path::Path;

use crate::harness::{TestServer, dead_url};
use crate::lua::{args, assert_exit, fleetsh_env, text};

fn with_config<'a>(path: &'a str, more: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
    let mut v = vec![("FLEETSH_CONFIG", path)];
    v.extend_from_slice(more);
    v
}

#[tokio::test]
async fn profiles_select_a_remote_and_its_defaults() {
    let s = TestServer::start().await;
    let c = &s.fleet.credentials;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("fleetsh/config.toml");
    let cfg = config.display().to_string();
    let env = with_config(&cfg, &[]);

    // A second org and location make the implicit defaults ambiguous without the profile.
    let out = fleetsh_env(
        args(&[
            "--url",
            &c.address,
            "--api-key-id",
            &c.api_key_id,
            "--api-key",
            &c.api_key,
            "-e",
            "cloud.create_location('second') cloud.create_organization('other')",
        ]),
        None,
        &env,
    )
    .await;
    assert_exit(&out, 0);

    let out = fleetsh_env(
        args(&[
            "profile",
            "add",
            "lab",
            "--url",
            &c.address,
            "--api-key-id",
            &c.api_key_id,
            "--org-id",
            s.org_id(),
            "--location-id",
            s.location_id(),
        ]),
        None,
        // The key comes from the environment, as a user would pass it.
        &with_config(&cfg, &[("VIAM_API_KEY", &c.api_key)]),
    )
    .await;
    assert_exit(&out, 0);
    assert!(
        !text(&out.stderr).contains(&c.api_key),
        "the key is never printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&config).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    let check = format!(
        "assert(cloud.default_org_id() == '{}') local id = cloud.new_robot('via-profile') \
         assert(cloud.get_robot(id).location == '{}') print(#cloud.list_locations())",
        s.org_id(),
        s.location_id()
    );
    let out = fleetsh_env(args(&["--profile", "lab", "-e", &check]), None, &env).await;
    assert_exit(&out, 0);
    assert_eq!(text(&out.stdout), "2\n");
    assert!(!text(&out.stderr).contains("local fleet"));
    // FLEETSH_PROFILE names it too.
    let out = fleetsh_env(
        args(&["-e", "print(#cloud.list_locations())"]),
        None,
        &with_config(&cfg, &[("FLEETSH_PROFILE", "lab")]),
    )
    .await;
    assert_exit(&out, 0);

    // Precedence: a flag or the environment beats the profile.
    let dead = dead_url();
    let out = fleetsh_env(
        args(&["--profile", "lab", "--url", &dead, "-e", "print(1)"]),
        None,
        &env,
    )
    .await;
    assert_exit(&out, 3);
    let out = fleetsh_env(
        args(&["--profile", "lab", "-e", "print(1)"]),
        None,
        &with_config(&cfg, &[("FLEETSH_URL", &dead)]),
    )
    .await;
    assert_exit(&out, 3);
    let out = fleetsh_env(
        args(&[
            "--profile",
            "lab",
            "--api-key-id",
            &c.api_key_id,
            "--api-key",
            "wrong",
            "-e",
            "print(1)",
        ]),
        None,
        &env,
    )
    .await;
    assert_exit(&out, 3);
    assert!(text(&out.stderr).contains("cannot authenticate"));

    let out = fleetsh_env(args(&["profile", "list"]), None, &env).await;
    assert_exit(&out, 0);
    let listed = text(&out.stdout);
    assert_eq!(listed, format!("lab\t{}\t{}\n", c.address, c.api_key_id));

    let out = fleetsh_env(args(&["--profile", "nope", "-e", "print(1)"]), None, &env).await;
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(
        err.contains("no profile \"nope\"") && err.contains("profiles: lab") && err.contains(&cfg),
        "{err}"
    );

    let out = fleetsh_env(args(&["profile", "remove", "lab"]), None, &env).await;
    assert_exit(&out, 0);
    let out = fleetsh_env(args(&["profile", "list"]), None, &env).await;
    assert_eq!(text(&out.stdout), "");
}

#[tokio::test]
async fn a_malformed_config_names_the_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(
        &config,
        "[profiles.lab]\nurl = \"http://127.0.0.1:1\"\napi_key = \n",
    )
    .unwrap();
    let cfg = config.display().to_string();
    let out = fleetsh_env(
        args(&["--profile", "lab", "-e", "print(1)"]),
        None,
        &with_config(&cfg, &[]),
    )
    .await;
    assert_exit(&out, 2);
    let err = text(&out.stderr);
    assert!(err.contains(&format!("{cfg}:3:")), "{err}");

    let out = fleetsh_env(
        args(&["profile", "add", "x"]),
        None,
        &with_config(&cfg, &[]),
    )
    .await;
    assert_exit(&out, 2);
    assert!(
        Path::new(&cfg).exists(),
        "a malformed file is not overwritten"
    );
    assert!(
        std::fs::read_to_string(&config)
            .unwrap()
            .contains("api_key = \n")
    );

    // A profile without a key cannot connect anywhere.
    std::fs::write(&config, "[profiles.lab]\nurl = \"http://127.0.0.1:1\"\n").unwrap();
    let out = fleetsh_env(
        args(&["--profile", "lab", "-e", "print(1)"]),
        None,
        &with_config(&cfg, &[]),
    )
    .await;
    assert_exit(&out, 2);
    assert!(text(&out.stderr).contains("has no api_key_id/api_key"));
}

#[tokio::test]
async fn a_malformed_config_stops_every_command_that_reads_it() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("config.toml");
    std::fs::write(&config, "[profiles.lab]\nurll = \"x\"\n").unwrap();
    let cfg = config.display().to_string();
    let data = dir.path().join("data").display().to_string();
    // No profile named: the runner still reads the file rather than falling back silently.
    for a in [
        args(&["--data", &data, "-e", "print(1)"]),
        args(&["--data", &data, "run", "-"]),
        args(&["profile", "list"]),
        args(&["profile", "remove", "lab"]),
    ] {
        let out = fleetsh_env(a.clone(), Some("print(1)"), &with_config(&cfg, &[])).await;
        assert_exit(&out, 2);
        let err = text(&out.stderr);
        assert!(err.contains(&format!("{cfg}:2:")), "{a:?}: {err}");
        assert_eq!(text(&out.stdout), "", "{a:?}");
    }
}

#[tokio::test]
async fn profile_help_lists_its_own_flags_only() {
    let runner_flags = [
        "--dry-run",
        "--lock",
        "--timeout",
        "--log-format",
        "--audit",
    ];
    let out = fleetsh_env(args(&["profile", "--help"]), None, &[]).await;
    assert_exit(&out, 0);
    let help = text(&out.stdout);
    for f in runner_flags {
        assert!(!help.contains(f), "{f} in profile --help:\n{help}");
    }
    assert!(help.contains("--api-key-id"), "{help}");
    let out = fleetsh_env(args(&["run", "--help"]), None, &[]).await;
    let help = text(&out.stdout);
    for f in runner_flags {
        assert!(help.contains(f), "{f} missing in run --help:\n{help}");
    }
    // Nor does it take them, after it or before it.
    let out = fleetsh_env(args(&["profile", "list", "--dry-run"]), None, &[]).await;
    assert_exit(&out, 2);
    let out = fleetsh_env(args(&["--dry-run", "profile", "list"]), None, &[]).await;
    assert_exit(&out, 2);
    assert!(
        text(&out.stderr).contains("apply to `run`"),
        "{}",
        text(&out.stderr)
    );
}
