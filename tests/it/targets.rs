//! Which fleet and which defaults a run gets: the embedded fleet follows the same rule for
//! `org_id`/`location_id` as a remote (the profile's default, else the only one, else an error
//! listing them), and the credentials sources in their order.

use crate::lua::{assert_exit, fleetsh, local, text};

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
