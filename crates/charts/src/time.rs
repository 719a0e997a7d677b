//! Time axis labels on the reader's clock (a fixed offset from UTC; the
//! window passes its time zone's), without a calendar library: `HH:MM` for
//! ranges up to two days, `MM-DD HH:MM` beyond.

/// How far the reader's clock is ahead of UTC, in minutes (India: 330).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UtcOffset(pub i32);

impl UtcOffset {
    pub const UTC: UtcOffset = UtcOffset(0);

    /// `UTC`, `UTC+05:30`, `UTC-08:00`.
    pub fn name(self) -> String {
        if self.0 == 0 {
            return "UTC".to_owned();
        }
        let sign = if self.0 < 0 { '-' } else { '+' };
        let minutes = self.0.unsigned_abs();
        format!("UTC{sign}{:02}:{:02}", minutes / 60, minutes % 60)
    }

    /// `YYYY-MM-DD HH:MM` of `at_ms` on this clock.
    pub fn date_time(self, at_ms: i64) -> String {
        let local = self.local_ms(at_ms);
        let (year, month, day) = civil(local.div_euclid(86_400_000));
        format!("{year:04}-{month:02}-{day:02} {}", clock(local))
    }

    fn local_ms(self, at_ms: i64) -> i64 {
        at_ms + i64::from(self.0) * 60_000
    }
}

/// `HH:MM` of a moment already on the reader's clock.
fn clock(local_ms: i64) -> String {
    let minutes = local_ms.div_euclid(60_000);
    format!(
        "{:02}:{:02}",
        minutes.div_euclid(60).rem_euclid(24),
        minutes.rem_euclid(60)
    )
}

/// The label of `at_ms` on an axis spanning `range_ms`, on `offset`'s clock.
pub(crate) fn label(at_ms: i64, range_ms: i64, offset: UtcOffset) -> String {
    let local = offset.local_ms(at_ms);
    if range_ms <= 48 * 3_600_000 {
        clock(local)
    } else {
        let (_, month, day) = civil(local.div_euclid(86_400_000));
        format!("{month:02}-{day:02} {}", clock(local))
    }
}

/// Year, month and day of a count of days since 1970-01-01 (Howard
/// Hinnant's civil-from-days).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_show_utc_time_and_the_day_for_long_ranges() {
        // 2023-11-14 22:13:20 UTC
        let at = 1_700_000_000_000;
        assert_eq!(label(at, 3_600_000, UtcOffset::UTC), "22:13");
        assert_eq!(label(at, 7 * 86_400_000, UtcOffset::UTC), "11-14 22:13");
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
    }

    #[test]
    fn an_offset_moves_the_clock_and_names_itself() {
        let at = 1_700_000_000_000;
        let india = UtcOffset(330);
        assert_eq!(label(at, 3_600_000, india), "03:43");
        assert_eq!(label(at, 7 * 86_400_000, india), "11-15 03:43");
        assert_eq!(india.date_time(at), "2023-11-15 03:43");
        assert_eq!(UtcOffset(-480).date_time(at), "2023-11-14 14:13");
        assert_eq!(india.name(), "UTC+05:30");
        assert_eq!(UtcOffset(-480).name(), "UTC-08:00");
        assert_eq!(UtcOffset::UTC.name(), "UTC");
    }
}
