//! Docker's times (RFC 3339) as unix milliseconds, without a calendar
//! library.

/// Unix milliseconds of an RFC 3339 time such as
/// `2026-12-01T19:40:00.123456789Z` (stats readings) or
/// `2026-12-01T21:40:00.123+02:00` (the daemon's clock, in its zone).
pub(crate) fn parse_rfc3339_ms(s: &str) -> Option<i64> {
    let (date, time) = s.split_once('T')?;
    let (time, offset_ms) = match time.find(['+', '-', 'Z']) {
        Some(i) => (&time[..i], offset_ms(&time[i..])?),
        None => (time, 0),
    };
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>());
    let (y, m, day) = (d.next()?.ok()?, d.next()?.ok()?, d.next()?.ok()?);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|p| p.parse::<i64>());
    let (h, min, sec) = (t.next()?.ok()?, t.next()?.ok()?, t.next()?.ok()?);
    let millis: i64 = format!("{frac:0<3}").get(..3)?.parse().ok()?;
    // Days since 1970-01-01 by the civil-from-days inverse (Howard Hinnant).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((m + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + h) * 60 + min) * 60_000 + sec * 1000 + millis - offset_ms)
}

/// `Z`, `+HH:MM` or `-HH:MM` in milliseconds east of UTC.
fn offset_ms(zone: &str) -> Option<i64> {
    if zone == "Z" {
        return Some(0);
    }
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let (h, m) = zone.get(1..)?.split_once(':')?;
    Some(sign * (h.parse::<i64>().ok()? * 60 + m.parse::<i64>().ok()?) * 60_000)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn docker_times_parse_to_unix_milliseconds() {
        assert_eq!(parse_rfc3339_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(
            parse_rfc3339_ms("2023-11-14T22:13:20.123456789Z"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:01.5Z"),
            Some(1_709_164_801_500)
        );
        assert_eq!(
            parse_rfc3339_ms("2023-11-15T00:13:20.123+02:00"),
            Some(1_700_000_000_123)
        );
        assert_eq!(
            parse_rfc3339_ms("2023-11-14T17:13:20.123-05:00"),
            Some(1_700_000_000_123)
        );
        assert_eq!(parse_rfc3339_ms("yesterday"), None);
    }
}
