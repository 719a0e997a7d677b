//! The app's own known_hosts handling, separate from the user's
//! `~/.ssh/known_hosts` (which is never read or written). Each connection
//! gets a one-host known_hosts file in its private directory: empty on first
//! contact (ssh adds the key it accepts), or the pinned key from the store
//! under the host pattern `*`, so the pin holds however the host is named
//! (alias, IP, port). Also: SHA256 fingerprints as `ssh-keygen -l` prints
//! them, and the small base64 codec they need.

use sha2::{Digest, Sha256};

/// One host key line of a known_hosts file, borrowed from its text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct KeyLine<'a> {
    /// The host patterns, possibly hashed (`|1|salt|hash`).
    pub hosts: &'a str,
    /// E.g. `ssh-ed25519`.
    pub key_type: &'a str,
    /// The base64 key blob.
    pub key: &'a str,
}

impl<'a> KeyLine<'a> {
    /// Parses one line. Comments, blank lines, `@cert-authority` and
    /// `@revoked` lines are refused, as is a key whose blob does not decode
    /// or does not start with its own type name.
    pub(crate) fn parse(line: &'a str) -> Result<KeyLine<'a>, &'static str> {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            return Err("it is blank or a comment");
        }
        if line.contains(['\n', '\r']) {
            return Err("it spans several lines");
        }
        let mut fields = line.split_ascii_whitespace();
        let hosts = fields.next().ok_or("it is blank")?;
        if hosts.starts_with('@') {
            return Err("it is a marker line, not a host key");
        }
        let key_type = fields.next().ok_or("it has no key type")?;
        let key = fields.next().ok_or("it has no key")?;
        let blob = base64_decode(key).ok_or("its key is not base64")?;
        if blob_type(&blob) != Some(key_type.as_bytes()) {
            return Err("its key does not match its key type");
        }
        Ok(KeyLine {
            hosts,
            key_type,
            key,
        })
    }

    /// `SHA256:<base64 of the SHA-256 of the key blob, unpadded>`, as
    /// `ssh-keygen -lf` and ssh's own warnings print it.
    pub(crate) fn fingerprint(&self) -> String {
        // parse() checked that the key decodes.
        let blob = base64_decode(self.key).unwrap_or_default();
        format!("SHA256:{}", base64_encode_unpadded(&Sha256::digest(&blob)))
    }

    /// The line to write into a connection's own known_hosts file: this
    /// key for any host name (`*`), since the file serves one host only.
    pub(crate) fn pin_file_line(&self) -> String {
        format!("* {} {}\n", self.key_type, self.key)
    }
}

/// The first host key line of a known_hosts file, as written there.
pub(crate) fn first_key_line(contents: &str) -> Option<&str> {
    contents
        .lines()
        .map(str::trim)
        .find(|line| KeyLine::parse(line).is_ok())
}

/// The fingerprint of a known_hosts line, e.g. a pin read from the store,
/// as `SHA256:...`; `None` if the line is not a host key line.
pub fn fingerprint_of(key_line: &str) -> Option<String> {
    KeyLine::parse(key_line).ok().map(|k| k.fingerprint())
}

/// The fingerprint ssh printed for the key the server sent, from its
/// "REMOTE HOST IDENTIFICATION HAS CHANGED" warning.
pub(crate) fn offered_fingerprint(ssh_output: &str) -> Option<String> {
    let after = ssh_output
        .split_once("sent by the remote host is")
        .map(|(_, rest)| rest)?;
    let fp = after.split_ascii_whitespace().next()?.trim_end_matches('.');
    let ok = fp.strip_prefix("SHA256:").is_some_and(|b64| {
        !b64.is_empty()
            && b64
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
    });
    ok.then(|| fp.to_owned())
}

/// The type name at the start of an SSH public key blob.
fn blob_type(blob: &[u8]) -> Option<&[u8]> {
    let len: [u8; 4] = blob.get(..4)?.try_into().ok()?;
    let len = usize::try_from(u32::from_be_bytes(len)).ok()?;
    blob.get(4..4usize.checked_add(len)?)
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64_encode_unpadded(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        let chars = [(n >> 18) & 63, (n >> 12) & 63, (n >> 6) & 63, n & 63];
        for &c in &chars[..chunk.len() + 1] {
            out.push(char::from(ALPHABET[c as usize]));
        }
    }
    out
}

/// Standard base64 with optional `=` padding; `None` on any other byte or
/// an impossible length.
fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let text = text.trim_end_matches('=');
    if text.len() % 4 == 1 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() * 3 / 4);
    let mut acc: u32 = 0;
    let mut bits = 0;
    for byte in text.bytes() {
        let value = ALPHABET.iter().position(|&a| a == byte)?;
        acc = (acc << 6) | u32::try_from(value).ok()?;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The stand-in VPS's host key and its fingerprint by `ssh-keygen -lf`.
    pub(crate) const STANDIN_KEY: &str =
        "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHvY48QTgTTB4LMKIofKY//czgzCIBb3RLSSzV4YOpFR";
    const STANDIN_FP: &str = "SHA256:+EXy+r4bFTEyaDlAGxtsfAQy+Hw2dIvDWpZe9An4fxM";
    const ECDSA: &str = "ecdsa-sha2-nistp256 AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBB0mi+vsStCWLzHRTUM5OJD1fw111tLNIZO6P88oZhTSr1XJfuX+7SenbvxnR27uGZiQY961lgE3frGCwL8GpAE=";

    #[test]
    fn fingerprints_match_ssh_keygen() {
        for hosts in [
            "[127.0.0.1]:2222",
            "|1|JrhYMdd8sy0TWfPj6HoZxM3S400=|JImUMeXd7ImMyvUuyu1nUGfbYwE=",
            "*",
        ] {
            let line = format!("{hosts} {STANDIN_KEY} a comment");
            assert_eq!(fingerprint_of(&line).as_deref(), Some(STANDIN_FP), "{line}");
            let parsed = KeyLine::parse(&line).unwrap();
            assert_eq!(parsed.hosts, hosts);
            assert_eq!(parsed.key_type, "ssh-ed25519");
        }
        // Padded base64 decodes too.
        assert!(fingerprint_of(&format!("h {ECDSA}")).is_some());
    }

    #[test]
    fn refuses_lines_that_are_not_host_keys() {
        for bad in [
            "",
            "   ",
            "# a comment",
            "@cert-authority * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHvY48QTgTTB4LMKIofKY//czgzCIBb3RLSSzV4YOpFR",
            "@revoked * ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHvY48QTgTTB4LMKIofKY//czgzCIBb3RLSSzV4YOpFR",
            "host",
            "host ssh-ed25519",
            "host ssh-ed25519 not*base64",
            "host ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIHvY48QTgTTB4LMKIofKY//czgzCIBb3RLSSzV4YOpFR",
            "host ssh-ed25519 AAAA",
            "host ssh-ed25519 A",
        ] {
            assert!(KeyLine::parse(bad).is_err(), "{bad:?}");
            assert_eq!(fingerprint_of(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_pin_file_names_any_host() {
        let line = format!("|1|salt|hash {STANDIN_KEY}");
        assert_eq!(
            KeyLine::parse(&line).unwrap().pin_file_line(),
            format!("* {STANDIN_KEY}\n")
        );
    }

    #[test]
    fn first_key_line_skips_comments_and_markers() {
        let file = format!(
            "# written by ssh\n\n@revoked * {STANDIN_KEY}\n[h]:22 {STANDIN_KEY}\nh {ECDSA}\n"
        );
        assert_eq!(
            first_key_line(&file),
            Some(format!("[h]:22 {STANDIN_KEY}").as_str())
        );
        assert_eq!(first_key_line("# nothing\n"), None);
    }

    #[test]
    fn offered_fingerprint_is_read_from_the_warning() {
        let out = "The fingerprint for the ED25519 key sent by the remote host is\n\
                   SHA256:+EXy+r4bFTEyaDlAGxtsfAQy+Hw2dIvDWpZe9An4fxM.\nPlease contact";
        assert_eq!(offered_fingerprint(out).as_deref(), Some(STANDIN_FP));
        assert_eq!(offered_fingerprint("Host key verification failed."), None);
        assert_eq!(
            offered_fingerprint("sent by the remote host is\nMD5:aa:bb"),
            None
        );
    }

    #[test]
    fn base64_round_trips() {
        for len in 0..40 {
            let bytes: Vec<u8> = (0..len).map(|i| (i * 37 + 11) as u8).collect();
            let encoded = base64_encode_unpadded(&bytes);
            assert!(!encoded.contains('='));
            assert_eq!(base64_decode(&encoded).unwrap(), bytes, "{len}");
        }
        assert_eq!(base64_encode_unpadded(b"foobar"), "Zm9vYmFy");
        assert_eq!(base64_encode_unpadded(b"fo"), "Zm8");
        assert_eq!(base64_decode("Zm8=").unwrap(), b"fo");
        assert_eq!(base64_decode("Zm9vY"), None);
        assert_eq!(base64_decode("Zm9v!"), None);
    }
}
