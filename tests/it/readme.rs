//! The README's Lua examples, run: every ```lua block of README.md runs on a fresh embedded
//! fleet and prints what its `-->` comments say (whitespace aside). The names a block leaves to
//! the reader (`loc`, `ids`, `part`) are defined first.

use std::path::Path;

use crate::lua::{assert_exit, local, text};

/// Blocks that cannot run alone, by their first line, with the test that covers them instead.
const NOT_RUN: &[(&str, &str)] = &[(
    "for e in cloud.tail_robot_part_logs",
    "waits for live logs: logs::tails_get_only_new_matching_entries",
)];

const GIVEN: &str = r#"local loc = cloud.list_locations()[1].id
local ids = { cloud.new_robot("readme-a", loc), cloud.new_robot("readme-b", loc) }
local part = cloud.get_robot_parts(ids[1])[1].id
"#;

fn lua_blocks(readme: &str) -> Vec<String> {
    let mut blocks = Vec::new();
    let mut current: Option<String> = None;
    for line in readme.lines() {
        match (&mut current, line.trim_start()) {
            (None, l) if l.starts_with("```lua") => current = Some(String::new()),
            (Some(_), l) if l.starts_with("```") => blocks.extend(current.take()),
            (Some(b), _) => {
                b.push_str(line);
                b.push('\n');
            }
            _ => {}
        }
    }
    blocks
}

/// The output lines a block promises: the text after each `-->`.
fn promised(block: &str) -> Vec<String> {
    block
        .lines()
        .filter_map(|l| l.split_once("-->").map(|(_, out)| squash(out)))
        .collect()
}

fn squash(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[tokio::test]
async fn every_lua_example_of_the_readme_prints_what_it_says() {
    let readme =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("README.md")).unwrap();
    let blocks = lua_blocks(&readme);
    assert!(blocks.len() >= 4, "found {} lua blocks", blocks.len());
    let mut ran = 0;
    for block in &blocks {
        if NOT_RUN.iter().any(|(head, _)| block.starts_with(head)) {
            continue;
        }
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("fleet");
        let chunk = format!("{GIVEN}{block}");
        // Run in the temp dir: write_private("ci.key", ...) and friends land there.
        let out = fleetsh_in(dir.path(), local(&data, &["-q", "-e", &chunk])).await;
        assert_exit(&out, 0);
        let printed: Vec<String> = text(&out.stdout).lines().map(squash).collect();
        assert_eq!(printed, promised(block), "README block:\n{block}");
        ran += 1;
    }
    assert_eq!(ran + NOT_RUN.len(), blocks.len());
}

async fn fleetsh_in(dir: &Path, args: Vec<String>) -> std::process::Output {
    let mut cmd = crate::lua::command(&args, &[]);
    cmd.current_dir(dir);
    tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap()
}

#[test]
fn blocks_and_promises_are_read_as_written() {
    let md = "x\n```lua\nprint(1) --> 1\n--> two  words\n```\n```sh\nno\n```\n";
    let blocks = lua_blocks(md);
    assert_eq!(blocks, vec!["print(1) --> 1\n--> two  words\n".to_string()]);
    assert_eq!(promised(&blocks[0]), vec!["1", "two words"]);
}
