//! The local fleet's clock, moved by tests without sleeping (`fleet.clock.advance("91d")` in
//! `fleetsh test`): advancing by D makes every time the fleet stored D older, which is what D
//! passing means to everything that compares a stored time with now — key ages, machines'
//! online windows, created and updated times, fragment and part history, and the captured
//! data's capture and sync times (so retention by age sees readings age). The real clock stays,
//! so tokens, deadlines and the scripts' own `time.now()` agree with the fleet. Log entries
//! keep the times their parts reported (a part's clock is its own).

use rusqlite::Transaction;

use super::error::ApiResult;

/// Whether a column holds one of the fleet's own times (nanoseconds since the epoch).
fn is_time_column(name: &str, ty: &str) -> bool {
    ty.eq_ignore_ascii_case("INTEGER")
        && (name.ends_with("_on")
            || name.ends_with("_at")
            || name == "at"
            || matches!(
                name,
                "last_access"
                    | "last_updated"
                    | "last_used"
                    | "last_login"
                    | "time_requested"
                    | "time_received"
                    | "time_synced"
            ))
}

/// Makes every stored time of the fleet `nanos` older; returns how many values moved.
pub fn advance(tx: &Transaction<'_>, nanos: i64) -> ApiResult<usize> {
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
