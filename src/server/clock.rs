//! The local fleet's clock, moved by tests without sleeping (`fleet.clock.advance("91d")` in
//! `fleetsh test`): advancing by D makes every time the fleet stored D older, which is what D
//! passing means to everything that compares a stored time with now — key ages, machines'
//! online windows, created and updated times, fragment and part history, the captured
//! data's capture and sync times (so retention by age sees readings age) and the sequences'
//! spans over them (so a sequence still selects the data it selected). The real clock stays,
//! so tokens, deadlines and the scripts' own `time.now()` agree with the fleet. Log entries
//! keep the times their parts reported (a part's clock is its own).

use super::store::Tx;

use super::error::ApiResult;

/// Whether a column holds one of the fleet's own times (nanoseconds since the epoch): by the
/// schema's naming (`*_on`, `*_at`, `at`, `time`, `time_*`, `*_time`) or by name for the
/// rest. Every INTEGER column is either this or in `tests::NOT_TIMES`, so a new column that a
/// rule misses fails a test rather than being left behind by the clock.
fn is_time_column(name: &str, ty: &str) -> bool {
    ty.eq_ignore_ascii_case("INTEGER")
        && (name.ends_with("_on")
            || name.ends_with("_at")
            || name.ends_with("_time")
            || name.starts_with("time_")
            || matches!(
                name,
                "at" | "time"
                    | "last_access"
                    | "last_updated"
                    | "last_used"
                    | "last_login"
                    | "last_modified"
                    | "date_added"
            ))
}

/// Makes every stored time of the fleet `nanos` older; returns how many values moved.
pub fn advance(tx: &Tx<'_>, nanos: i64) -> ApiResult<usize> {
    let tables: Vec<String> = tx
        .prepare_cached(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' \
             AND name NOT IN ('logs', 'meta')",
        )?
        .query_map([], |r| r.get(0))?
        .collect::<Result<_, _>>()?;
    let mut moved = 0;
    for table in tables {
        let columns: Vec<(String, String)> = tx
            .prepare_cached("SELECT name, type FROM pragma_table_info(?1)")?
            .query_map([&table], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?;
        for (column, _) in columns.iter().filter(|(c, t)| is_time_column(c, t)) {
            // Names come from the schema itself, not from a request.
            let sql = format!(
                "UPDATE \"{table}\" SET \"{column}\" = \"{column}\" - ?1 WHERE \"{column}\" IS NOT NULL"
            );
            moved += tx.prepare_cached(&sql)?.execute([nanos])?;
        }
    }
    Ok(moved)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The INTEGER columns that are not times: ids, counters, flags and enums.
    const NOT_TIMES: &[&str] = &[
        "seq",
        "id",
        "size",
        "revision",
        "main_part",
        "restart_requested",
        "editor_type",
        "visibility",
        "billing_enabled",
        "auth_service_enabled",
        "type",
        "status",
        "model_type",
        "model_framework",
        "is_custom",
        "collection_type",
        "enabled",
        "backfill",
        "data_source_type",
        "result_count",
    ];

    #[test]
    fn every_integer_column_of_the_schema_is_a_time_or_known_not_to_be() {
        let dir = tempfile::tempdir().unwrap();
        let store = crate::server::store::Store::open(&dir.path().join("fleet.db")).unwrap();
        let columns: Vec<(String, String, String)> = store
            .read(|c| {
                let mut q = c.prepare(
                    "SELECT m.name, p.name, p.type FROM sqlite_master m, pragma_table_info(m.name) p \
                     WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
                )?;
                let rows = q.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))?;
                Ok(rows.collect::<Result<Vec<_>, _>>()?)
            })
            .unwrap();
        let unclassified: Vec<String> = columns
            .iter()
            .filter(|(_, c, t)| t.eq_ignore_ascii_case("INTEGER") && !is_time_column(c, t))
            .filter(|(_, c, _)| !NOT_TIMES.contains(&c.as_str()))
            .map(|(table, c, _)| format!("{table}.{c}"))
            .collect();
        assert!(
            unclassified.is_empty(),
            "INTEGER columns neither moved by the clock nor listed in NOT_TIMES: {unclassified:?}; \
             name a time column by the rules of is_time_column (or list it there), else add it to NOT_TIMES"
        );
        for c in NOT_TIMES {
            assert!(
                !is_time_column(c, "INTEGER"),
                "{c} is in NOT_TIMES but matches a time rule"
            );
        }
    }

    #[test]
    fn time_columns_by_name_and_type() {
        for c in [
            "created_on",
            "uploaded_at",
            "at",
            "last_access",
            "last_used",
            "time_requested",
            "time_received",
            "time_synced",
            "start_time",
            "end_time",
            "time_created",
            "last_modified",
            "date_added",
        ] {
            assert!(is_time_column(c, "INTEGER"), "{c}");
        }
        for (c, t) in [
            ("revision", "INTEGER"),
            ("created_on", "TEXT"),
            ("main_part", "INTEGER"),
        ] {
            assert!(!is_time_column(c, t), "{c} {t}");
        }
    }
}
