//! Where an app version's code came from, when it came from git: the
//! repository's URL (without credentials: the caller strips them), the
//! branch, tag or commit asked for and the commit checked out. Validated, so
//! it can be a label; labels carry it so every kept version says it.

use std::fmt;

use serde::Serialize;

use crate::spec::SpecError;

/// A git origin: `URL REF COMMIT` in its label.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
pub struct Origin {
    url: String,
    reference: String,
    commit: String,
}

impl Origin {
    pub fn git(url: &str, reference: &str, commit: &str) -> Result<Self, SpecError> {
        let bad = || SpecError::Origin(format!("{url} {reference} {commit}"));
        let plain = |s: &str, extra: &[u8]| {
            !s.is_empty()
                && s.len() <= 500
                && s.bytes().all(|b| {
                    b.is_ascii_alphanumeric() || b"-._/".contains(&b) || extra.contains(&b)
                })
        };
        let url_ok = plain(url, b":@~?#[]!&()*+,;=%");
        let commit_ok =
            matches!(commit.len(), 40 | 64) && commit.bytes().all(|b| b.is_ascii_hexdigit());
        if url_ok && plain(reference, b"") && commit_ok {
            Ok(Self {
                url: url.to_owned(),
                reference: reference.to_owned(),
                commit: commit.to_ascii_lowercase(),
            })
        } else {
            Err(bad())
        }
    }

    /// Reads a label value back; `None` when it is not one.
    pub fn from_label(value: &str) -> Option<Self> {
        let mut parts = value.split(' ');
        let (url, reference, commit) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() {
            return None;
        }
        Self::git(url, reference, commit).ok()
    }

    pub fn url(&self) -> &str {
        &self.url
    }

    pub fn reference(&self) -> &str {
        &self.reference
    }

    pub fn commit(&self) -> &str {
        &self.commit
    }

    /// The commit's first 12 hex digits.
    pub fn short_commit(&self) -> &str {
        &self.commit[..12]
    }
}

impl fmt::Display for Origin {
    /// The label value: `URL REF COMMIT`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {} {}", self.url, self.reference, self.commit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHA: &str = "0123456789abcdef0123456789abcdef01234567";

    #[test]
    fn an_origin_round_trips_through_its_label() {
        let origin = Origin::git("ssh://git@h:2222/team/sales.git", "release/1.2", SHA).unwrap();
        assert_eq!(origin.short_commit(), "0123456789ab");
        assert_eq!(Origin::from_label(&origin.to_string()), Some(origin));
        assert_eq!(Origin::from_label("a b"), None);
        assert_eq!(Origin::from_label(&format!("u r {SHA} extra")), None);
    }

    #[test]
    fn what_could_break_a_label_is_refused() {
        for (url, reference, commit) in [
            ("https://h/a b", "main", SHA),
            ("https://h/\"x", "main", SHA),
            ("https://h/x", "ma in", SHA),
            ("https://h/x", "main\n", SHA),
            ("https://h/x", "main", "abc"),
            (
                "https://h/x",
                "main",
                "g123456789abcdef0123456789abcdef01234567",
            ),
            ("https://h/$HOME", "main", SHA),
            ("", "main", SHA),
        ] {
            assert!(
                Origin::git(url, reference, commit).is_err(),
                "{url:?} {reference:?} {commit:?}"
            );
        }
    }
}
