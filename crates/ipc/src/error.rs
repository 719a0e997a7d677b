//! The one error that crosses IPC: a machine-readable code for the UI to
//! branch on and the sentence people read (the shell fills it with
//! `rdesk_core::sentence`, as the CLI prints it).

use serde::{Deserialize, Serialize};

/// What kind of failure, for the UI to decide what to offer (retry, fix a field...).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    /// Something the user typed or dropped is not acceptable; nothing changed.
    InvalidInput,
    /// No such host or app.
    NotFound,
    /// The host could not be reached or refused us.
    Unreachable,
    /// The host answered but the operation failed there.
    Failed,
    /// Calling an app's function failed.
    Call,
    /// The shell could not do its own part (IPC, cache, files).
    Internal,
}

/// `{code, message}`: how every command fails.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IpcError {
    pub code: ErrorCode,
    pub message: String,
}

impl IpcError {
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }
}

impl std::fmt::Display for IpcError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for IpcError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serializes_as_code_and_message() {
        let e = IpcError::new(ErrorCode::NotFound, "there is no host named `x`");
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(
            json,
            serde_json::json!({"code": "not_found", "message": "there is no host named `x`"})
        );
        assert_eq!(serde_json::from_value::<IpcError>(json).unwrap(), e);
    }
}
