//! `time`: the wall clock below a second, a monotonic clock, RFC 3339 and durations, so that
//! scripts need neither `io.popen("date")` nor their own parsing.
//!
//! `time.now()` -> epoch seconds (with fractions), RFC 3339 text; `time.monotonic()` -> seconds
//! since an arbitrary start; `time.parse(s)` -> epoch seconds of an RFC 3339 time;
//! `time.format(t)` -> RFC 3339 text of epoch seconds (default now); `time.duration("90d")` ->
//! seconds; `time.format_duration(11525)` -> "3h 12m 5s"; `time.ago("90d")` -> the RFC 3339
//! time that long before now.

use std::sync::LazyLock;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use mlua::{Lua, Table, Value as Lv};

static START: LazyLock<Instant> = LazyLock::new(Instant::now);

fn epoch(t: SystemTime) -> f64 {
    match t.duration_since(UNIX_EPOCH) {
        Ok(d) => d.as_secs_f64(),
        Err(e) => -e.duration().as_secs_f64(),
    }
}

fn timestamp(secs: f64) -> mlua::Result<prost_types::Timestamp> {
    if !secs.is_finite() {
        return Err(mlua::Error::runtime(format!(
            "time.format: {secs} is not a time"
        )));
    }
    let whole = secs.floor();
    Ok(prost_types::Timestamp {
        seconds: whole as i64,
        nanos: ((secs - whole) * 1e9).round().min(999_999_999.0) as i32,
    })
}

/// RFC 3339 text of epoch seconds, as replies print their Timestamps.
pub fn format(secs: f64) -> mlua::Result<String> {
    Ok(timestamp(secs)?.to_string())
}

/// Epoch seconds of an RFC 3339 time (`Z` or an offset, any fraction).
pub fn parse(s: &str) -> Result<f64, String> {
    let ts: prost_types::Timestamp = s
        .parse()
        .map_err(|_| format!("'{s}' is not an RFC 3339 time (e.g. 2024-01-02T03:04:05Z)"))?;
    Ok(ts.seconds as f64 + f64::from(ts.nanos) / 1e9)
}

/// Seconds of a duration written as `90d`, `1h 30m`, `250ms`, or a number of seconds.
pub fn duration(v: &Lv) -> Result<f64, String> {
    match v {
        Lv::Integer(i) => Ok(*i as f64),
        Lv::Number(n) => Ok(*n),
        Lv::String(s) => {
            let text = s.to_string_lossy();
            humantime::parse_duration(text.trim())
                .map(|d| d.as_secs_f64())
                .map_err(|e| format!("'{text}' is not a duration (e.g. 90d, 12h, 30s): {e}"))
        }
        other => Err(format!(
            "expected a duration string or seconds, got {}",
            other.type_name()
        )),
    }
}

pub fn register(lua: &Lua) -> mlua::Result<()> {
    LazyLock::force(&START);
    let t: Table = lua.create_table()?;
    t.set(
        "now",
        lua.create_function(|_, ()| {
            let now = epoch(SystemTime::now());
            Ok((now, format(now)?))
        })?,
    )?;
    t.set(
        "monotonic",
        lua.create_function(|_, ()| Ok(START.elapsed().as_secs_f64()))?,
    )?;
    t.set(
        "parse",
        lua.create_function(|_, s: String| {
            parse(&s).map_err(|e| mlua::Error::runtime(format!("time.parse: {e}")))
        })?,
    )?;
    t.set(
        "format",
        lua.create_function(|_, secs: Option<f64>| {
            format(secs.unwrap_or_else(|| epoch(SystemTime::now())))
        })?,
    )?;
    t.set(
        "duration",
        lua.create_function(|_, v: Lv| {
            duration(&v).map_err(|e| mlua::Error::runtime(format!("time.duration: {e}")))
        })?,
    )?;
    t.set(
        "format_duration",
        lua.create_function(|_, secs: f64| {
            if !secs.is_finite() || secs < 0.0 {
                return Err(mlua::Error::runtime(
                    "time.format_duration: seconds must be a non-negative number",
                ));
            }
            // Whole seconds: "3h 12m 5s" reads better than its nanoseconds.
            Ok(humantime::format_duration(Duration::from_secs(secs as u64)).to_string())
        })?,
    )?;
    t.set(
        "ago",
        lua.create_function(|_, v: Lv| {
            let secs = duration(&v).map_err(|e| mlua::Error::runtime(format!("time.ago: {e}")))?;
            let then = SystemTime::now()
                .checked_sub(Duration::from_secs_f64(secs.max(0.0)))
                .unwrap_or(UNIX_EPOCH);
            format(epoch(then))
        })?,
    )?;
    lua.globals().set("time", t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_durations() {
        let lua = Lua::new();
        register(&lua).unwrap();
        let (ok, why): (bool, String) = lua
            .load(
                r#"
                local t, s = time.now()
                assert(math.type(t) == "float" and t > 1.7e9, "epoch with fractions")
                assert(math.abs(time.parse(s) - t) < 1e-3, "now's text parses back")
                assert(time.format(0) == "1970-01-01T00:00:00Z")
                assert(time.parse("2024-01-02T03:04:05.5+01:00") == 1704161045.5)
                assert(time.duration("90d") == 90 * 86400)
                assert(time.duration("1h 30m") == 5400)
                assert(time.duration(12) == 12)
                assert(time.format_duration(11525) == "3h 12m 5s", time.format_duration(11525))
                local ago = time.parse(time.ago("1d"))
                assert(math.abs((t - ago) - 86400) < 5)
                local m1 = time.monotonic(); local m2 = time.monotonic()
                assert(m2 >= m1)
                local ok, e = pcall(time.duration, "ninety days")
                return ok, tostring(e)
            "#,
            )
            .eval()
            .unwrap();
        assert!(!ok);
        assert!(why.contains("is not a duration"), "{why}");
        let e = lua
            .load(r#"return tostring(select(2, pcall(time.parse, "yesterday")))"#)
            .eval::<String>()
            .unwrap();
        assert!(
            e.contains("time.parse: 'yesterday' is not an RFC 3339 time"),
            "{e}"
        );
    }
}
