//! QAP1 wire constants and framing: command codes, data and expression type
//! codes, error codes (all as defined in Rserve's `src/Rsrv.h`), the 16-byte
//! message header and the 32-byte server banner.
//!
//! All integers on the wire are little-endian.

/// `CMD_login`: "name\npwd" (not used: the platform's servers need no login).
pub const CMD_LOGIN: u32 = 0x001;
/// `CMD_voidEval`: string, no result.
pub const CMD_VOID_EVAL: u32 = 0x002;
/// `CMD_eval`: string or encoded SEXP, answers an encoded SEXP.
pub const CMD_EVAL: u32 = 0x003;
/// `CMD_shutdown`.
pub const CMD_SHUTDOWN: u32 = 0x004;
/// `CMD_OCcall`: a language construct whose first element is an OCAP
/// reference; the only command an OCAP-mode server accepts.
pub const CMD_OC_CALL: u32 = 0x00f;
/// `CMD_OCinit` ('RsOC' in little-endian): the packet an OCAP-mode server
/// sends first, instead of the banner, carrying the result of `oc.init()`.
pub const CMD_OC_INIT: u32 = 0x434f_7352;
/// `CMD_setSEXP`: string (symbol name), encoded SEXP.
pub const CMD_SET_SEXP: u32 = 0x020;
/// `CMD_assignSEXP`: like `CMD_setSEXP` but the name is parsed.
pub const CMD_ASSIGN_SEXP: u32 = 0x021;

/// Flag set on every response.
pub const CMD_RESP: u32 = 0x10000;
/// Command succeeded.
pub const RESP_OK: u32 = CMD_RESP | 0x0001;
/// Command failed; the status code is in bits 24..31.
pub const RESP_ERR: u32 = CMD_RESP | 0x0002;
/// Flag of out-of-band messages (unsolicited, from R code).
pub const CMD_OOB: u32 = 0x20000;
/// OOB send: data from R, no answer expected.
pub const OOB_SEND: u32 = CMD_OOB | 0x1000;
/// OOB message: data from R that expects an answer.
pub const OOB_MSG: u32 = CMD_OOB | 0x2000;

/// Parameter types (`DT_*`) of a message body.
pub const DT_INT: u8 = 1;
pub const DT_CHAR: u8 = 2;
pub const DT_DOUBLE: u8 = 3;
pub const DT_STRING: u8 = 4;
pub const DT_BYTESTREAM: u8 = 5;
pub const DT_SEXP: u8 = 10;
pub const DT_ARRAY: u8 = 11;
pub const DT_CUSTOM: u8 = 32;
/// Flag: the parameter length takes 56 bits (an 8-byte parameter header).
pub const DT_LARGE: u8 = 64;

/// Expression types (`XT_*`) of an encoded SEXP.
pub const XT_NULL: u8 = 0;
pub const XT_INT: u8 = 1;
pub const XT_DOUBLE: u8 = 2;
pub const XT_STR: u8 = 3;
pub const XT_LANG: u8 = 4;
pub const XT_SYM: u8 = 5;
pub const XT_BOOL: u8 = 6;
pub const XT_S4: u8 = 7;
pub const XT_VECTOR: u8 = 16;
pub const XT_LIST: u8 = 17;
pub const XT_CLOS: u8 = 18;
pub const XT_SYMNAME: u8 = 19;
pub const XT_LIST_NOTAG: u8 = 20;
pub const XT_LIST_TAG: u8 = 21;
pub const XT_LANG_NOTAG: u8 = 22;
pub const XT_LANG_TAG: u8 = 23;
pub const XT_VECTOR_EXP: u8 = 26;
pub const XT_VECTOR_STR: u8 = 27;
pub const XT_ARRAY_INT: u8 = 32;
pub const XT_ARRAY_DOUBLE: u8 = 33;
pub const XT_ARRAY_STR: u8 = 34;
pub const XT_ARRAY_BOOL_UA: u8 = 35;
pub const XT_ARRAY_BOOL: u8 = 36;
pub const XT_RAW: u8 = 37;
pub const XT_ARRAY_CPLX: u8 = 38;
pub const XT_UNKNOWN: u8 = 48;
/// Flag: the SEXP length takes 56 bits (an 8-byte SEXP header).
pub const XT_LARGE: u8 = 64;
/// Flag: an attribute pairlist follows the header, before the data.
pub const XT_HAS_ATTR: u8 = 128;

/// Logical values in `XT_ARRAY_BOOL`.
pub const BOOL_FALSE: u8 = 0;
pub const BOOL_TRUE: u8 = 1;
pub const BOOL_NA: u8 = 2;

/// Largest length that fits a 4-byte header; Rserve switches to the large
/// header above this (it uses 0xfffff0, not 0xffffff, as its threshold).
pub const MAX_SMALL_LEN: u64 = 0x00ff_fff0;

/// Status code of a failed `R_tryEval` (`-1 & 127`).
pub const STAT_R_ERROR: u8 = 127;

/// Name of an Rserve error status code (`ERR_*` of `Rsrv.h`), if it is one.
pub fn error_name(code: u8) -> Option<&'static str> {
    Some(match code {
        0x41 => "authentication failed",
        0x42 => "connection broken",
        0x43 => "invalid command",
        0x44 => "invalid parameter",
        0x45 => "R error",
        0x46 => "I/O error",
        0x47 => "file not open",
        0x48 => "access denied",
        0x49 => "unsupported command",
        0x4a => "unknown command",
        0x4b => "data overflow (message too large for the server)",
        0x4c => "object too big to send",
        0x4d => "out of memory",
        0x4e => "control pipe closed",
        0x50 => "session busy",
        0x51 => "detach failed",
        0x61 => "feature disabled",
        0x62 => "feature unavailable in this build",
        0x63 => "crypto-system error",
        0x64 => "closed for security reasons",
        _ => return None,
    })
}

/// Human name of a command code, for error messages.
pub fn command_name(cmd: u32) -> String {
    match cmd {
        CMD_LOGIN => "login".into(),
        CMD_VOID_EVAL => "voidEval".into(),
        CMD_EVAL => "eval".into(),
        CMD_SHUTDOWN => "shutdown".into(),
        CMD_OC_CALL => "OCcall".into(),
        CMD_SET_SEXP => "setSEXP".into(),
        CMD_ASSIGN_SEXP => "assignSEXP".into(),
        other => format!("command {other:#x}"),
    }
}

/// The status code of a response (`CMD_STAT`).
pub fn cmd_stat(cmd: u32) -> u8 {
    ((cmd >> 24) & 127) as u8
}

/// The 16-byte header in front of every QAP1 message.
///
/// The third word is the message id since Rserve 1.8 (echoed in responses);
/// the fourth holds the high 32 bits of the body length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub cmd: u32,
    pub len: u64,
    pub msg_id: u32,
}

impl Header {
    /// Header size on the wire.
    pub const SIZE: usize = 16;

    /// Encodes the header.
    pub fn to_bytes(&self) -> [u8; 16] {
        let mut out = [0u8; 16];
        out[0..4].copy_from_slice(&self.cmd.to_le_bytes());
        out[4..8].copy_from_slice(&((self.len & 0xffff_ffff) as u32).to_le_bytes());
        out[8..12].copy_from_slice(&self.msg_id.to_le_bytes());
        out[12..16].copy_from_slice(&((self.len >> 32) as u32).to_le_bytes());
        out
    }

    /// Decodes a header.
    pub fn from_bytes(bytes: &[u8; 16]) -> Header {
        let word =
            |i: usize| u32::from_le_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        Header {
            cmd: word(0),
            len: u64::from(word(4)) | (u64::from(word(12)) << 32),
            msg_id: word(8),
        }
    }
}

/// The 32-byte identification string an Rserve server sends on connect in
/// plain (eval) mode, e.g. `Rsrv0103QAP1\r\n\r\n--------------\r\n`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Banner {
    /// Protocol version, e.g. "0103".
    pub version: String,
    /// Transport protocol, always "QAP1" for banners this crate accepts.
    pub protocol: String,
    /// Optional 4-byte attributes after the protocol (e.g. "ARpt"), with the
    /// filler ("----", blanks, line breaks) left out.
    pub attributes: Vec<String>,
}

impl Banner {
    /// The authentication methods the server demands ("pt", "uc", "m5"), if any.
    pub fn auth_methods(&self) -> Vec<&str> {
        self.attributes
            .iter()
            .filter_map(|a| a.strip_prefix("AR"))
            .collect()
    }
}

/// Size of the banner on the wire.
pub const BANNER_LEN: usize = 32;

/// Parses and validates a banner: "Rsrv", a 4-digit version of at least 0103
/// (the first with 64-bit lengths), "QAP1". Returns a readable reason otherwise.
pub fn parse_banner(bytes: &[u8]) -> Result<Banner, String> {
    if bytes.len() != BANNER_LEN {
        return Err(format!(
            "the banner has {} bytes instead of 32",
            bytes.len()
        ));
    }
    if &bytes[0..4] != b"Rsrv" {
        return Err(format!(
            "it does not start with \"Rsrv\" but with {}",
            printable(&bytes[0..4])
        ));
    }
    let version = &bytes[4..8];
    if !version.iter().all(u8::is_ascii_digit) {
        return Err(format!("invalid protocol version {}", printable(version)));
    }
    let version = String::from_utf8_lossy(version).into_owned();
    if version.as_str() < "0103" {
        return Err(format!(
            "protocol version {version} is too old (0103 or newer needed)"
        ));
    }
    if &bytes[8..12] != b"QAP1" {
        return Err(format!(
            "it speaks {} instead of QAP1",
            printable(&bytes[8..12])
        ));
    }
    let attributes = bytes[12..]
        .chunks(4)
        .map(|chunk| {
            String::from_utf8_lossy(chunk)
                .trim_matches(|c: char| c == '-' || c.is_ascii_whitespace())
                .to_string()
        })
        .filter(|a| !a.is_empty())
        .collect();
    Ok(Banner {
        version,
        protocol: "QAP1".into(),
        attributes,
    })
}

/// Shows bytes from the peer safely: as text when printable, else as hex.
pub fn printable(bytes: &[u8]) -> String {
    if !bytes.is_empty() && bytes.iter().all(|b| b.is_ascii_graphic() || *b == b' ') {
        format!("{:?}", String::from_utf8_lossy(bytes))
    } else {
        let hex: Vec<String> = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("bytes [{}]", hex.join(" "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trip_with_high_length() {
        let h = Header {
            cmd: RESP_OK,
            len: 0x1_2345_6789,
            msg_id: 7,
        };
        let bytes = h.to_bytes();
        assert_eq!(&bytes[0..4], &[0x01, 0x00, 0x01, 0x00]);
        assert_eq!(&bytes[4..8], &[0x89, 0x67, 0x45, 0x23]);
        assert_eq!(&bytes[12..16], &[0x01, 0, 0, 0]);
        assert_eq!(Header::from_bytes(&bytes), h);
    }

    #[test]
    fn oc_init_is_rsoc_in_little_endian() {
        assert_eq!(&CMD_OC_INIT.to_le_bytes(), b"RsOC");
    }

    #[test]
    fn status_code_of_an_r_error() {
        // What Rserve 1.8 sends when eval or an OCAP call fails in R.
        assert_eq!(cmd_stat(0x7f01_0002), STAT_R_ERROR);
        assert_eq!(0x7f01_0002 & 0x00ff_ffff, RESP_ERR);
        assert_eq!(error_name(0x44), Some("invalid parameter"));
        assert_eq!(error_name(0x7f), None);
    }

    #[test]
    fn parses_the_rserve_18_banner() {
        let banner = parse_banner(b"Rsrv0103QAP1\r\n\r\n--------------\r\n").unwrap();
        assert_eq!(banner.version, "0103");
        assert_eq!(banner.protocol, "QAP1");
        assert!(banner.attributes.is_empty());
        assert!(banner.auth_methods().is_empty());
    }

    #[test]
    fn banner_attributes_and_auth() {
        let banner = parse_banner(b"Rsrv0103QAP1\r\n\r\nARuc----ARpt----").unwrap();
        assert_eq!(banner.attributes, vec!["ARuc", "ARpt"]);
        assert_eq!(banner.auth_methods(), vec!["uc", "pt"]);
    }

    #[test]
    fn rejects_bad_banners() {
        let err = parse_banner(b"HTTP/1.1 400 Bad Request\r\n\r\n....").unwrap_err();
        assert!(err.contains("\"HTTP\""), "{err}");
        let err = parse_banner(b"Rsrv0103QAP2\r\n\r\n--------------\r\n").unwrap_err();
        assert!(err.contains("QAP2"), "{err}");
        let err = parse_banner(b"Rsrv0102QAP1\r\n\r\n--------------\r\n").unwrap_err();
        assert!(err.contains("too old"), "{err}");
        let err = parse_banner(b"Rsrv01x3QAP1\r\n\r\n--------------\r\n").unwrap_err();
        assert!(err.contains("version"), "{err}");
        let err = parse_banner(b"Rsrv").unwrap_err();
        assert!(err.contains("4 bytes"), "{err}");
        let err = parse_banner(&[0u8; 32]).unwrap_err();
        assert!(err.contains("bytes [00 00 00 00]"), "{err}");
    }
}
