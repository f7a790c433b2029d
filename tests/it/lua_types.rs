//! Bad input, client side: wrong Lua types for `cloud` arguments fail before any call with a
//! Lua error naming the function, the field and the expected type (exit 1), through the real
//! binary (`fleetsh -e`) on the embedded local fleet; json.decode names the line.

use std::process::Command;

/// Runs `fleetsh -e CHUNK` on a fresh embedded fleet; returns (exit code, stderr).
fn run(chunk: &str) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_fleetsh"))
        .args(["-e", chunk])
        .env("FLEETSH_DATA", dir.path())
        .env_remove("VIAM_API_KEY")
        .env_remove("VIAM_API_KEY_ID")
        .env_remove("FLEETSH_URL")
        .env_remove("FLEETSH_PROFILE")
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[track_caller]
fn fails_naming(chunk: &str, needles: &[&str]) {
    let (code, err) = run(chunk);
    assert_eq!(code, Some(1), "{chunk}: {err}");
    for n in needles {
        assert!(err.contains(n), "{chunk}: {n:?} not in:\n{err}");
    }
}

#[test]
fn wrong_lua_types_name_the_field_and_the_expected_type() {
    let cases: &[(&str, &[&str])] = &[
        // A number for an id, by position and by name.
        (
            "cloud.get_location(42)",
            &[
                "get_location",
                "location_id",
                "expected string, got integer",
            ],
        ),
        (
            "cloud.new_robot{name = 7, location_id = 'x'}",
            &["new_robot", "name", "expected string, got integer"],
        ),
        // A function anywhere.
        (
            "cloud.create_location{name = print}",
            &["create_location", "name", "expected string, got function"],
        ),
        (
            "cloud.list_robots(function() end)",
            &["list_robots", "location_id", "got function"],
        ),
        // A table for a string, a string for a table (array).
        (
            "cloud.new_robot{name = {}, location_id = 'x'}",
            &["new_robot", "name", "expected string, got table"],
        ),
        (
            "cloud.check_permissions('x')",
            &[
                "check_permissions",
                "permissions",
                "expected array, got string",
            ],
        ),
        // Nested: a field of a message inside a list.
        (
            "cloud.check_permissions{permissions = {{resource_type = 1}}}",
            &["check_permissions", "resource_type", "expected string"],
        ),
        // The generic path names the same things.
        (
            "cloud.call('GetRobot', {id = true})",
            &["id", "expected string, got boolean"],
        ),
        // Too many positional arguments, and an unknown named one with a hint.
        (
            "cloud.list_robots('a', 'b')",
            &["list_robots", "at most 1 positional"],
        ),
        (
            "cloud.new_robot{nme = 'r'}",
            &["unknown argument 'nme'", "did you mean 'name'"],
        ),
    ];
    for (chunk, needles) in cases {
        fails_naming(chunk, needles);
    }
}

#[test]
fn malformed_json_names_the_line() {
    fails_naming(
        "json.decode('{\\n  \"a\": 1,\\n  bad\\n}')",
        &["json.decode", "line 3"],
    );
}

#[test]
fn errors_name_the_python_argument_not_the_proto_field() {
    // `map`ped arguments (robot_id -> id) and org_id (-> organization_id), in custom functions too.
    fails_naming(
        "cloud.get_robot(42)",
        &["get_robot", "robot_id: expected string, got integer"],
    );
    fails_naming(
        "cloud.update_robot{robot_id = 'r', location_id = true}",
        &["update_robot", "location_id: expected string, got boolean"],
    );
    fails_naming(
        "cloud.list_locations{org_id = 5}",
        &["list_locations", "org_id: expected string, got integer"],
    );
    fails_naming(
        "cloud.get_robot_part_logs{robot_part_id = 3}",
        &["get_robot_part_logs", "robot_part_id: expected string"],
    );
}

#[test]
fn call_with_a_non_table_request_names_the_method() {
    fails_naming(
        "cloud.call('GetRobot', 'x')",
        &["GetRobot", "expected table", "got string"],
    );
    fails_naming(
        "cloud.call('UploadModuleFile', 5)",
        &["UploadModuleFile", "expected array", "got integer"],
    );
}

#[test]
fn build_functions_check_their_arguments_first() {
    let cases: &[(&str, &[&str])] = &[
        (
            "cloud.create_key(5)",
            &["create_key", "authorizations: expected array, got integer"],
        ),
        (
            "cloud.create_key{authorizations = 'x'}",
            &["create_key", "authorizations: expected array, got string"],
        ),
        // One authorization instead of a list of them is not silently empty.
        (
            "cloud.create_key{authorizations = {role = 'owner'}}",
            &["authorizations: expected an array, found key 'role'"],
        ),
        (
            "cloud.create_key{{role = 1}}",
            &["authorizations[1].role: expected string, got integer"],
        ),
        (
            "cloud.create_key{{rol = 'owner'}}",
            &[
                "authorizations[1]: unknown field 'rol'",
                "did you mean 'role'",
            ],
        ),
        (
            "cloud.add_role(1)",
            &["add_role", "identity_id: expected string, got integer"],
        ),
        (
            "cloud.remove_role{identity_id = 'u', org_id = 3}",
            &["remove_role", "org_id: expected string, got integer"],
        ),
        (
            "cloud.update_module{module_id = 'm', public = 'yes'}",
            &["update_module", "public: expected boolean, got string"],
        ),
        (
            "cloud.update_module{module_id = 'm', models = {{api = 1}}}",
            &["models[1].api: expected string, got integer"],
        ),
        (
            "cloud.upload_module_file(5, 'bytes')",
            &[
                "upload_module_file",
                "module_file_info: expected table, got integer",
            ],
        ),
    ];
    for (chunk, needles) in cases {
        fails_naming(chunk, needles);
    }
}
