//! Timestamps as RFC 3339 text, exactly as `prost_types::Timestamp` displays them, without the
//! formatting machinery: a list of 10,000 machines formats 20,000 of them, and `write!` was a
//! tenth of its decoding time.

use arrayvec::ArrayString;

/// Room for an RFC 3339 time with nanoseconds (`2024-01-02T03:04:05.123456789Z` is 30).
pub const CHARS: usize = 48;

/// `ts` as `Timestamp`'s Display shows it; years before 1970 or after 9999 and
/// unnormalised nanos take the slower general path.
pub fn format(ts: &prost_types::Timestamp) -> ArrayString<CHARS> {
    fast(ts.seconds, ts.nanos).unwrap_or_else(|| {
        let mut s = ArrayString::new();
        // Longer than CHARS only for years beyond any calendar; cut rather than panic.
        let _ = std::fmt::Write::write_fmt(&mut s, format_args!("{ts}"));
        s
    })
}

/// 9999-12-31T23:59:59Z.
const LAST_FAST_SECOND: i64 = 253_402_300_799;

fn fast(seconds: i64, nanos: i32) -> Option<ArrayString<CHARS>> {
    if !(0..=LAST_FAST_SECOND).contains(&seconds) || !(0..1_000_000_000).contains(&nanos) {
        return None;
    }
    let (days, secs) = (seconds / 86_400, seconds % 86_400);
    let (year, month, day) = civil_from_days(days);
    let mut buf = [0u8; 30];
    digits(&mut buf[0..4], year as u32);
    buf[4] = b'-';
    digits(&mut buf[5..7], month);
    buf[7] = b'-';
    digits(&mut buf[8..10], day);
    buf[10] = b'T';
    digits(&mut buf[11..13], (secs / 3600) as u32);
    buf[13] = b':';
    digits(&mut buf[14..16], (secs / 60 % 60) as u32);
    buf[16] = b':';
    digits(&mut buf[17..19], (secs % 60) as u32);
    let nanos = nanos as u32;
    let mut end = 19;
    if nanos != 0 {
        buf[19] = b'.';
        let (value, width) = if nanos % 1_000_000 == 0 {
            (nanos / 1_000_000, 3)
        } else if nanos % 1_000 == 0 {
            (nanos / 1_000, 6)
        } else {
            (nanos, 9)
        };
        digits(&mut buf[20..20 + width], value);
        end = 20 + width;
    }
    buf[end] = b'Z';
    let text = std::str::from_utf8(&buf[..=end]).expect("ASCII digits and separators");
    ArrayString::from(text).ok()
}

/// `value` in decimal, zero-padded to the slice's width.
fn digits(out: &mut [u8], mut value: u32) {
    for b in out.iter_mut().rev() {
        *b = b'0' + (value % 10) as u8;
        value /= 10;
    }
}

/// Days since 1970-01-01 -> (year, month, day), proleptic Gregorian (Howard Hinnant's
/// `civil_from_days`), for days >= 0.
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(seconds: i64, nanos: i32) {
        let ts = prost_types::Timestamp { seconds, nanos };
        assert_eq!(format(&ts).as_str(), ts.to_string(), "{seconds}.{nanos}");
    }

    #[test]
    fn formats_as_prost_displays() {
        let nanos = [0, 5, 1_000, 123_000, 1_000_000, 120_000_000, 999_999_999];
        // Leap days, century years, the ends of the fast range and a stride through it.
        let days = [
            0, 59, 60, 365, 789, 10_957, 11_016, 11_017, 47_541, 2_932_896,
        ];
        for d in days {
            for s in [0, 1, 59, 3_599, 86_399] {
                for n in nanos {
                    check(d * 86_400 + s, n);
                }
            }
        }
        let mut s = 0i64;
        while s <= LAST_FAST_SECOND {
            check(s, (s % 1_000_000_007) as i32 % 1_000_000_000);
            s += 86_400 * 37 + 3_607;
        }
        // Outside the fast path: before 1970, after 9999, unnormalised nanos.
        for (s, n) in [
            (-1, 0),
            (-86_401, 5),
            (LAST_FAST_SECOND + 1, 0),
            (5, -3),
            (5, 2_000_000_000),
        ] {
            check(s, n);
        }
    }
}
