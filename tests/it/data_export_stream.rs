//! scripts/export_readings.lua writes an export of any size page by page (issue 12): 100,000
//! readings go to a file in order, and the exporting process's peak RSS (VmHWM, printed by the
//! chunk that runs the chore) stays below one page's peak plus the size of the file (holding
//! the readings peaked at 3.5 times the baseline when measured; streaming at the baseline).

use std::path::Path;

use crate::harness::TestServer;
use crate::lua::{assert_exit, fleetsh, remote, text};

const READINGS: usize = 100_000;

fn peak_kib(stdout: &str) -> u64 {
    let at = stdout.find("peak=").expect("the run printed its peak") + 5;
    stdout[at..].trim().lines().next().unwrap().parse().unwrap()
}

#[tokio::test]
async fn an_export_of_100k_readings_streams_to_a_file_in_order() {
    let s = TestServer::start().await;
    // Seeded in batches of 10,000, one a millisecond, all within the last 24 hours.
    let seed = format!(
        r#"local part = cloud.get_robot_parts(cloud.new_robot("rover"))[1].id
        local base = os.time() - 3600
        for b = 0, {READINGS} / 10000 - 1 do
          local rs, ts = {{}}, {{}}
          for i = 1, 10000 do
            local n = b * 10000 + i
            local at = time.format(base + n / 1000)
            rs[i] = {{ readings = {{ n = n, temp = 20.5 }} }}
            ts[i] = {{ at, at }}
          end
          cloud.data.tabular_data_capture_upload(rs, part, "rdk:component:sensor", "temp", "Readings", ts)
        end"#
    );
    assert_exit(&fleetsh(remote(&s, &["-q", "-e", &seed]), None).await, 0);

    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("readings.csv");
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts");
    // The chore run inside a chunk that then prints the process's peak RSS; the baseline is a
    // chunk that reads one page of the same readings.
    let peak =
        r#"print("peak=" .. io.open("/proc/self/status"):read("a"):match("VmHWM:%s*(%d+)"))"#;
    let export = format!(
        r#"package.path = {dir:?} .. "/?.lua;" .. package.path
        arg = {{ "fields=n", {out:?} }}
        dofile({dir:?} .. "/export_readings.lua")
        {peak}"#,
        dir = scripts.display().to_string(),
        out = format!("out={}", file.display()),
    );
    let out = fleetsh(remote(&s, &["-e", &export]), None).await;
    assert_exit(&out, 0);
    assert!(
        text(&out.stderr).contains(&format!("{READINGS} reading(s)")),
        "{}",
        text(&out.stderr)
    );
    let one_page = format!(r#"cloud.data.tabular_data_by_filter {{ limit = 1000 }} {peak}"#);
    let baseline = fleetsh(remote(&s, &["-q", "-e", &one_page]), None).await;
    assert_exit(&baseline, 0);
    let (export_kib, baseline_kib) = (
        peak_kib(&text(&out.stdout)),
        peak_kib(&text(&baseline.stdout)),
    );
    let file_kib = std::fs::metadata(&file).unwrap().len() / 1024;
    assert!(
        export_kib < baseline_kib + file_kib,
        "exporting {READINGS} readings ({file_kib} KiB of CSV) peaked at {export_kib} KiB, one page at \
         {baseline_kib} KiB: the export is holding its readings instead of writing them page by page"
    );
    let csv = std::fs::read_to_string(&file).unwrap();
    let mut lines = csv.lines();
    assert!(lines.next().unwrap().starts_with("time_captured,"));
    let mut count = 0;
    for (i, line) in lines.enumerate() {
        let n: usize = line.split(',').nth(7).unwrap().parse().unwrap();
        assert_eq!(n, i + 1, "line {}: {line}", i + 2);
        count += 1;
    }
    assert_eq!(count, READINGS);
}
