//! Time axis labels in UTC, without a calendar library: `HH:MM` for ranges
//! up to two days, `MM-DD HH:MM` beyond.

/// The label of `at_ms` on an axis spanning `range_ms`.
pub(crate) fn label(at_ms: i64, range_ms: i64) -> String {
    let minutes = at_ms.div_euclid(60_000);
    let (hh, mm) = (
        minutes.div_euclid(60).rem_euclid(24),
        minutes.rem_euclid(60),
    );
    if range_ms <= 48 * 3_600_000 {
        format!("{hh:02}:{mm:02}")
    } else {
        let (_, month, day) = civil(at_ms.div_euclid(86_400_000));
        format!("{month:02}-{day:02} {hh:02}:{mm:02}")
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
        assert_eq!(label(at, 3_600_000), "22:13");
        assert_eq!(label(at, 7 * 86_400_000), "11-14 22:13");
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_782), (2024, 2, 29));
    }
}
