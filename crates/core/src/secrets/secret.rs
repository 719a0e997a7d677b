//! [`Secret`]: a string that redacts itself when printed and wipes its
//! buffer when dropped.

use std::fmt;

/// A password or passphrase. Read it only on purpose, with
/// [`Secret::expose`].
///
/// - `Debug` and `Display` print `<redacted>`.
/// - It does not implement `serde::Serialize`, so a struct holding one cannot
///   be written to JSON, SQLite or IPC by mistake: that fails to compile.
/// - On drop, its whole buffer (length and spare capacity) is overwritten
///   with zeros. Copies made before it was wrapped (by the keyring's D-Bus
///   layer, a terminal, ...) are out of its reach.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

/// What a [`Secret`] prints instead of its value.
pub const REDACTED: &str = "<redacted>";

impl Secret {
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The secret itself. Call only to hand it to its one consumer (the
    /// keyring, ssh's askpass pipe), never to format or log it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self(value.to_owned())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(REDACTED)
    }
}

impl Drop for Secret {
    fn drop(&mut self) {
        let mut bytes = std::mem::take(&mut self.0).into_bytes();
        let capacity = bytes.capacity();
        bytes.clear();
        // Within the capacity, so no reallocation: every byte the buffer
        // ever held becomes zero.
        bytes.resize(capacity, 0);
        // Keep the writes from being optimised away as dead stores.
        std::hint::black_box(&mut bytes);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_are_redacted() {
        let s = Secret::new("hunter2");
        assert_eq!(format!("{s:?}"), "<redacted>");
        assert_eq!(format!("{s}"), "<redacted>");
        assert_eq!(format!("{:#?}", Some(&s)), "Some(\n    <redacted>,\n)");
        assert_eq!(s.expose(), "hunter2");
    }

    #[test]
    fn redacted_inside_derived_debug() {
        #[derive(Debug)]
        #[allow(dead_code)]
        struct Login {
            user: String,
            password: Secret,
        }
        let l = Login {
            user: "root".into(),
            password: Secret::from("p@ss w0rd"),
        };
        let text = format!("{l:?}");
        assert!(!text.contains("p@ss"), "{text}");
        assert!(text.contains("<redacted>"), "{text}");
    }

    #[test]
    fn clones_and_compares() {
        let a = Secret::from(String::from("x"));
        let b = a.clone();
        assert_eq!(a, b);
        drop(a);
        assert_eq!(b.expose(), "x");
        assert!(Secret::new("").is_empty());
    }
}
