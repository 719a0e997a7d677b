//! What the window tells a user to paste to call an app: a complete rserve-js
//! program (for Node or, with the package's `rserve.min.js`, a web page), an
//! R program with RSclient through `rdesk tunnel`, and the same call through
//! `rdesk`. The end-to-end tests run them as shown,
//! with only the token placeholder replaced.

use rdesk_spawner::{AccessMode, Cidr, Mode};

use crate::DeskError;
use crate::desk::{Desk, app_url};

/// Stands where the user's token goes (`rdesk token create` shows it once).
pub const TOKEN_PLACEHOLDER: &str = "PASTE-A-TOKEN-HERE";

/// A JavaScript string literal of `text` (JSON's escaping is JavaScript's).
fn js_string(text: &str) -> String {
    serde_json::Value::from(text).to_string()
}

/// An rserve-js program that connects to the app at `url` the way its mode
/// and access want (the token to the first capability, or a QAP login for
/// eval apps) and prints what it may call.
pub fn rserve_js(url: &str, slug: &str, host: &str, mode: Mode, access: AccessMode) -> String {
    let token_line = match access {
        AccessMode::Token => format!(
            "const token = {}; // `rdesk token create {slug} --host {host}` shows one\n",
            js_string(TOKEN_PLACEHOLDER)
        ),
        AccessMode::Public => String::new(),
    };
    let header = format!(
        "// rserve-js: `npm install rserve ws@8` with \"overrides\": {{ \"ws\": \"^8\" }} in\n\
         // package.json (its bundled ws is too old for current Node); in a web page,\n\
         // load the package's rserve.min.js instead of `require`.\n\
         const Rserve = require(\"rserve\");\n\
         {token_line}"
    );
    let body = match mode {
        Mode::Ocap => {
            let first = match access {
                AccessMode::Token => "s.ocap(token, (funs) => {",
                AccessMode::Public => "s.ocap((funs) => {",
            };
            format!(
                "const s = Rserve.create({{\n  \
                   host: {url},\n  \
                   on_connect: () =>\n    \
                     {first}\n      \
                       // funs: the app's functions, e.g. funs.f(arg, (result) => ...).\n      \
                       // A string goes to R as a character vector, a Float64Array as\n      \
                       // a numeric vector, a JS array as a list.\n      \
                       console.log(\"functions:\", Object.keys(funs).filter((f) => typeof funs[f] === \"function\").join(\", \"));\n      \
                       s.close();\n    \
                     }}),\n  \
                   on_error: (e) => {{ console.error(String(e)); s.close(); }},\n\
                 }});\n",
                url = js_string(url),
            )
        }
        Mode::Eval => format!(
            "const s = Rserve.create({{\n  \
               host: {url},\n  \
               login: \"rdesk\\n\" + token, // eval apps: user rdesk, the token as password\n  \
               on_connect: () =>\n    \
                 s.eval(\"R.version.string\", (v) => {{\n      \
                   console.log(\"R:\", v.value.json());\n      \
                   s.close();\n    \
                 }}),\n  \
               on_error: (e) => {{ console.error(String(e)); s.close(); }},\n\
             }});\n",
            url = js_string(url),
        ),
    };
    format!("{header}{body}")
}

/// The same call from a terminal (or R's `system2`), through `rdesk`: it uses
/// this workstation's own token for the app; another one passes `RDESK_TOKEN`.
pub fn rdesk_call(slug: &str, host: &str, access: AccessMode) -> String {
    let token = match access {
        AccessMode::Token => {
            format!("\n# from another workstation: RDESK_TOKEN={TOKEN_PLACEHOLDER} rdesk call ...")
        }
        AccessMode::Public => String::new(),
    };
    format!("rdesk call {slug} FUNCTION '\"argument\"' --host {host}{token}")
}

/// An R program with RSclient (R's QAP client) that connects to the app
/// through `rdesk tunnel` on `port` (the one the open tunnel took), or,
/// without one, says how to open it on 6311; then gets past the app's door
/// as its mode and access want (the token to the first capability, or a QAP
/// login for eval apps) and prints what it may call.
pub fn r_qap(slug: &str, host: &str, mode: Mode, access: AccessMode, port: Option<u16>) -> String {
    let tunnel = match port {
        Some(port) => format!(
            "# through the tunnel on 127.0.0.1:{port}, open while `rdesk tunnel` or the window's\n\
             # Tunnel button keeps it; it carries bytes only, so the app's access still applies.\n"
        ),
        None => format!(
            "# through a tunnel first opened with `rdesk tunnel {slug} --host {host} --port {DEFAULT_TUNNEL_PORT}`\n\
             # and left running; it carries bytes only, so the app's access still applies.\n"
        ),
    };
    let port = port.unwrap_or(DEFAULT_TUNNEL_PORT);
    let token_line = match access {
        AccessMode::Token => format!(
            "token <- \"{TOKEN_PLACEHOLDER}\" # `rdesk token create {slug} --host {host}` shows one\n"
        ),
        AccessMode::Public => String::new(),
    };
    let body = match mode {
        Mode::Ocap => {
            let first = match access {
                AccessMode::Token => "list(attr(c, \"capabilities\"), token)",
                AccessMode::Public => "list(attr(c, \"capabilities\"))",
            };
            format!(
                "funs <- RS.eval.qap(c, as.call({first}))\n\
                 # funs: the app's functions, e.g. RS.eval.qap(c, as.call(list(funs$f, 1, \"x\"))).\n\
                 # A call that fails in R answers a list of class \"rdesk_error\" with its message.\n\
                 writeLines(paste(\"functions:\", paste(names(funs), collapse = \", \")))\n"
            )
        }
        Mode::Eval => "invisible(RS.login(c, \"rdesk\", token, authkey = RS.authkey(c))) # eval: user rdesk, the token as password\n\
             writeLines(paste(\"R:\", RS.eval(c, R.version.string)))\n"
            .to_owned(),
    };
    format!(
        "# R over QAP with RSclient (install.packages(\"RSclient\"); Debian: r-cran-rsclient),\n\
         {tunnel}\
         library(RSclient)\n\
         {token_line}\
         c <- RS.connect(\"127.0.0.1\", {port}L)\n\
         {body}\
         invisible(RS.close(c))\n"
    )
}

/// The local port the R snippet names when no tunnel is open.
pub const DEFAULT_TUNNEL_PORT: u16 = 6311;

/// Who may call an app, as its newest container runs, and what to paste to call it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppAccess {
    pub access: AccessMode,
    /// The networks callers must come from; empty: any.
    pub allow: Vec<Cidr>,
    /// [`rserve_js`] for this app.
    pub rserve_js: String,
    /// [`rdesk_call`] for this app.
    pub rdesk_call: String,
    /// [`r_qap`] for this app, through a tunnel on the default port.
    pub r_qap: String,
}

impl Desk {
    /// Who may call app `slug` of `host`, read from the host, with the
    /// snippets that call it that way.
    pub async fn app_access(&self, host: &str, slug: &str) -> Result<AppAccess, DeskError> {
        let public_url = self.host(host).await?.public_url;
        let state = self
            .with_session(host, async |s| s.status(slug).await)
            .await?;
        let mode = Mode::parse(&state.mode)?;
        let access = state.settings.access;
        Ok(AppAccess {
            access,
            allow: state.settings.allow.clone(),
            rserve_js: rserve_js(&app_url(&public_url, slug)?, slug, host, mode, access),
            rdesk_call: rdesk_call(slug, host, access),
            r_qap: r_qap(slug, host, mode, access, None),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_app_hands_the_token_to_the_first_capability() {
        let js = rserve_js(
            "wss://r.example.org/sales",
            "sales",
            "prod",
            Mode::Ocap,
            AccessMode::Token,
        );
        assert!(
            js.contains(
                "const token = \"PASTE-A-TOKEN-HERE\"; // `rdesk token create sales --host prod`"
            ),
            "{js}"
        );
        assert!(js.contains("host: \"wss://r.example.org/sales\","), "{js}");
        assert!(js.contains("s.ocap(token, (funs) => {"), "{js}");
        assert!(!js.contains("login"), "{js}");
    }

    #[test]
    fn a_public_app_calls_the_first_capability_without_a_token() {
        let js = rserve_js("ws://h/a", "a", "h", Mode::Ocap, AccessMode::Public);
        assert!(js.contains("s.ocap((funs) => {"), "{js}");
        assert!(!js.contains("token"), "{js}");
    }

    #[test]
    fn an_eval_app_logs_in_with_the_token() {
        let js = rserve_js("ws://h/e", "e", "h", Mode::Eval, AccessMode::Token);
        assert!(js.contains("login: \"rdesk\\n\" + token,"), "{js}");
        assert!(js.contains("s.eval(\"R.version.string\""), "{js}");
    }

    #[test]
    fn a_url_cannot_break_out_of_its_string() {
        let js = rserve_js(
            "ws://h/a\"); evil(\"",
            "a",
            "h",
            Mode::Ocap,
            AccessMode::Public,
        );
        assert!(js.contains(r#"host: "ws://h/a\"); evil(\"","#), "{js}");
    }

    #[test]
    fn the_r_snippet_hands_the_token_to_the_first_capability_through_the_tunnel() {
        let r = r_qap("sales", "prod", Mode::Ocap, AccessMode::Token, Some(40123));
        assert!(r.contains("c <- RS.connect(\"127.0.0.1\", 40123L)"), "{r}");
        assert!(
            r.contains("token <- \"PASTE-A-TOKEN-HERE\" # `rdesk token create sales --host prod`"),
            "{r}"
        );
        assert!(
            r.contains("RS.eval.qap(c, as.call(list(attr(c, \"capabilities\"), token)))"),
            "{r}"
        );
        let closed = r_qap("sales", "prod", Mode::Ocap, AccessMode::Public, None);
        assert!(
            closed.contains("`rdesk tunnel sales --host prod --port 6311`"),
            "{closed}"
        );
        assert!(
            closed.contains("RS.connect(\"127.0.0.1\", 6311L)"),
            "{closed}"
        );
        assert!(!closed.contains("token"), "{closed}");
    }

    #[test]
    fn the_r_snippet_logs_in_to_eval_apps() {
        let r = r_qap("e", "h", Mode::Eval, AccessMode::Token, Some(7000));
        assert!(
            r.contains("invisible(RS.login(c, \"rdesk\", token, authkey = RS.authkey(c)))"),
            "{r}"
        );
        assert!(!r.contains("capabilities"), "{r}");
    }

    #[test]
    fn the_rdesk_call_names_the_token_variable_for_other_workstations() {
        assert!(rdesk_call("a", "h", AccessMode::Token).contains("RDESK_TOKEN="));
        assert!(!rdesk_call("a", "h", AccessMode::Public).contains("TOKEN"));
    }
}
