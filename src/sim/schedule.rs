//! When a simulated part is offline: a pure function of the time since the simulation started,
//! in fleet time (real time plus every `fleet.clock.advance`), so a test can jump into or past
//! a window without waiting for it.

use std::time::Duration;

#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub at: Duration,
    pub lasting: Duration,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Offline {
    Never,
    /// Offline for `lasting` from `at` within every period of `every`.
    Periodic {
        every: Duration,
        lasting: Duration,
        at: Duration,
    },
    /// Offline in each window, counted from the start.
    Windows(Vec<Window>),
}

impl Offline {
    /// Offline `lasting` out of every `every`, from `at` in each period (default its end).
    pub fn periodic(
        every: Duration,
        lasting: Duration,
        at: Option<Duration>,
    ) -> Result<Self, String> {
        if every.is_zero() {
            return Err("every must be more than 0".into());
        }
        if lasting >= every {
            return Err(format!(
                "lasting ({}) must be shorter than every ({}), or the part is never online",
                humantime::format_duration(lasting),
                humantime::format_duration(every)
            ));
        }
        let at = at.unwrap_or(every - lasting);
        if at + lasting > every {
            return Err("at + lasting must fit in one period of every".into());
        }
        Ok(Self::Periodic { every, lasting, at })
    }

    /// Whether the part is offline at `t`, and how long until that changes (None: never).
    pub fn at(&self, t: Duration) -> (bool, Option<Duration>) {
        match self {
            Self::Never => (false, None),
            Self::Periodic { every, lasting, at } => {
                let every_n = every.as_nanos();
                let phase = Duration::from_nanos((t.as_nanos() % every_n) as u64);
                let end = *at + *lasting;
                if phase < *at {
                    (false, Some(*at - phase))
                } else if phase < end {
                    (true, Some(end - phase))
                } else {
                    (false, Some(*every - phase + *at))
                }
            }
            Self::Windows(windows) => {
                if let Some(w) = windows.iter().find(|w| w.at <= t && t < w.at + w.lasting) {
                    // Overlapping windows: offline until the last of them that covers the end.
                    let mut end = w.at + w.lasting;
                    while let Some(next) = windows
                        .iter()
                        .find(|n| n.at <= end && end < n.at + n.lasting)
                    {
                        end = next.at + next.lasting;
                    }
                    return (true, Some(end - t));
                }
                let next = windows.iter().filter(|w| w.at > t).map(|w| w.at - t).min();
                (false, next)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(n: u64) -> Duration {
        Duration::from_secs(n)
    }

    #[test]
    fn periodic_windows_end_each_period_by_default() {
        let o = Offline::periodic(s(600), s(60), None).unwrap();
        assert_eq!(o.at(s(0)), (false, Some(s(540))));
        assert_eq!(o.at(s(539)), (false, Some(s(1))));
        assert_eq!(o.at(s(540)), (true, Some(s(60))));
        assert_eq!(o.at(s(599)), (true, Some(s(1))));
        assert_eq!(o.at(s(600)), (false, Some(s(540))));
        assert_eq!(o.at(s(1150)), (true, Some(s(50))));
    }

    #[test]
    fn periodic_windows_where_at_says() {
        let o = Offline::periodic(s(10), s(2), Some(s(0))).unwrap();
        assert_eq!(o.at(s(0)), (true, Some(s(2))));
        assert_eq!(o.at(s(2)), (false, Some(s(8))));
        assert_eq!(o.at(s(13)), (false, Some(s(7))));
        assert!(Offline::periodic(s(10), s(10), None).is_err());
        assert!(Offline::periodic(s(10), s(2), Some(s(9))).is_err());
        assert!(Offline::periodic(s(0), s(0), None).is_err());
    }

    #[test]
    fn explicit_windows() {
        let o = Offline::Windows(vec![
            Window {
                at: s(30),
                lasting: s(10),
            },
            Window {
                at: s(35),
                lasting: s(10),
            },
            Window {
                at: s(100),
                lasting: s(1),
            },
        ]);
        assert_eq!(o.at(s(0)), (false, Some(s(30))));
        assert_eq!(o.at(s(31)), (true, Some(s(14))), "overlaps join");
        assert_eq!(o.at(s(45)), (false, Some(s(55))));
        assert_eq!(o.at(s(101)), (false, None));
        assert_eq!(Offline::Never.at(s(5)), (false, None));
    }
}
