//! Wall-clock time as milliseconds since the Unix epoch: the unit every stored time (schedules,
//! workflow records, actor creation) uses; and in nanoseconds, the unit of span times.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// Milliseconds since the Unix epoch, now.
pub(crate) fn now_ms() -> i64 {
    to_ms(SystemTime::now())
}

/// `time` in milliseconds since the Unix epoch (negative before it, saturating).
/// Nanoseconds since the Unix epoch (0 before it): a span's start.
pub(crate) fn now_ns() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
}

pub(crate) fn to_ms(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(d) => i64::try_from(d.as_millis()).unwrap_or(i64::MAX),
        Err(e) => -i64::try_from(e.duration().as_millis()).unwrap_or(i64::MAX),
    }
}

/// The time `ms` milliseconds after (or before, if negative) the Unix epoch.
pub(crate) fn from_ms(ms: i64) -> SystemTime {
    if ms >= 0 {
        UNIX_EPOCH + Duration::from_millis(ms.unsigned_abs())
    } else {
        UNIX_EPOCH - Duration::from_millis(ms.unsigned_abs())
    }
}

/// How long from now until `at_ms`; zero if it is past.
pub(crate) fn until_ms(at_ms: i64) -> Duration {
    Duration::from_millis(u64::try_from(at_ms.saturating_sub(now_ms())).unwrap_or(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn milliseconds_round_trip_on_both_sides_of_the_epoch() {
        for ms in [0, 1, 1_700_000_000_123, -1, -86_400_000] {
            assert_eq!(to_ms(from_ms(ms)), ms);
        }
        assert!(now_ms() > 1_700_000_000_000);
        assert_eq!(until_ms(now_ms() - 1000), Duration::ZERO);
    }
}
