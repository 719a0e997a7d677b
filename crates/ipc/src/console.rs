//! The console's commands: the functions an app offers with their formal
//! arguments, and a call of one with positional and named arguments.

use serde::{Deserialize, Serialize};

/// A call of `function` of app `slug`: the positional arguments, then the
/// named ones (`name = value`), all as JSON values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallArgs {
    pub host: String,
    pub slug: String,
    pub function: String,
    pub args: Vec<serde_json::Value>,
    #[serde(default)]
    pub named: Vec<(String, serde_json::Value)>,
}

/// A function an app offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FunctionView {
    pub name: String,
    /// Its formal arguments in order; `None` when the app does not say
    /// (an app built before apps said them).
    pub arguments: Option<Vec<ArgumentView>>,
}

/// A formal argument: its name (`...` for any further ones) and its default
/// as R source, if any.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArgumentView {
    pub name: String,
    pub default: Option<String>,
}
