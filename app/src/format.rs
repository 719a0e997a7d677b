//! Words for numbers the UI shows: ages, times of day in the user's own
//! time zone, sizes, word lists.

/// "just now", "42 s ago", "5 min ago", "3 h ago", "2 days ago".
pub fn age(now_ms: i64, then_ms: i64) -> String {
    match (now_ms - then_ms).max(0) {
        0..5000 => "just now".to_owned(),
        ms => format!("{} ago", span(ms)),
    }
}

/// "42 s", "5 min", "3 h", "2 days".
pub fn span(ms: i64) -> String {
    let secs = ms.max(0) / 1000;
    match secs {
        0..60 => format!("{secs} s"),
        60..3600 => format!("{} min", secs / 60),
        3600..86400 => format!("{} h", secs / 3600),
        _ => format!("{} days", secs / 86400),
    }
}

/// `2026-12-04 17:45`, from its parts.
fn date_time(year: u32, month: u32, day: u32, hour: u32, minute: u32) -> String {
    format!("{year:04}-{month:02}-{day:02} {hour:02}:{minute:02}")
}

/// A moment (Unix milliseconds) in the time zone this computer is set to.
pub fn local_time(ms: i64) -> String {
    let d = js_sys::Date::new(&wasm_bindgen::JsValue::from_f64(ms as f64));
    date_time(
        d.get_full_year(),
        d.get_month() + 1,
        d.get_date(),
        d.get_hours(),
        d.get_minutes(),
    )
}

/// How far this computer's clock is ahead of UTC now, in minutes.
pub fn utc_offset_min() -> i32 {
    -(js_sys::Date::new_0().get_timezone_offset() as i32)
}

pub fn bytes(n: u64) -> String {
    match n {
        0..1024 => format!("{n} B"),
        1024..1_048_576 => format!("{:.1} KiB", n as f64 / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.1} MiB", n as f64 / 1_048_576.0),
        _ => format!("{:.1} GiB", n as f64 / 1_073_741_824.0),
    }
}

/// `a, b c` into `["a", "b", "c"]`.
pub fn word_list(text: &str) -> Vec<String> {
    text.split([',', ' ', '\n'])
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_naturally() {
        let now = 1_000_000_000;
        assert_eq!(age(now, now), "just now");
        assert_eq!(
            age(now, now + 5000),
            "just now",
            "clock skew is not negative"
        );
        assert_eq!(age(now, now - 42_000), "42 s ago");
        assert_eq!(age(now, now - 5 * 60_000), "5 min ago");
        assert_eq!(age(now, now - 3 * 3_600_000), "3 h ago");
        assert_eq!(age(now, now - 2 * 86_400_000), "2 days ago");
        assert_eq!(span(3_000), "3 s");
        assert_eq!(span(-1), "0 s");
    }

    #[test]
    fn times_are_zero_padded_and_sort_as_text() {
        assert_eq!(date_time(2026, 3, 4, 5, 6), "2026-03-04 05:06");
        assert!(date_time(2026, 12, 4, 9, 5) < date_time(2026, 12, 4, 10, 0));
    }

    #[test]
    fn sizes() {
        assert_eq!(bytes(12), "12 B");
        assert_eq!(bytes(2048), "2.0 KiB");
        assert_eq!(bytes(3 * 1_048_576), "3.0 MiB");
        assert_eq!(bytes(3 * 1_073_741_824 + 858_993_459), "3.8 GiB");
    }

    #[test]
    fn word_lists() {
        assert_eq!(word_list("a, b\nc"), ["a", "b", "c"]);
    }
}
