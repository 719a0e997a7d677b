//! [`Client`]: one connection to an Rserve server, over TCP or WebSocket, in
//! whichever mode the server runs.
//!
//! On connect the server speaks first:
//! - plain (eval) mode: the 32-byte banner `Rsrv0103QAP1...` (over WebSocket
//!   as a text frame); the client may then send `CMD_eval`, `CMD_setSEXP`, ...
//! - OCAP mode: no banner at all, but a `CMD_OCinit` message (its first
//!   bytes read "RsOC") whose `DT_SEXP` body is the value `oc.init()`
//!   returned. By the convention rserve-js and RCloud follow, that is ONE
//!   capability, which the client calls (with [`ClientOptions::token`] as
//!   its argument, if any) to receive the named list of function
//!   capabilities; a server that hands out the list itself (older
//!   `start.R`) is taken as it is. The only command allowed afterwards is
//!   `CMD_OCcall` with a call whose first element is one of those
//!   references; anything else makes the server hang up.
//! - eval mode with `auth required`: the banner lists the login methods;
//!   with a token the client logs in in plain text (`ARpt`, user `rdesk`,
//!   the token as password) before anything else.
//!
//! Errors: when R fails, Rserve 1.8 answers `RESP_ERR` with status 127 and no
//! text at all (the text only reaches the server's stderr). To give callers
//! R's message, the platform's `start.R` wraps every exposed function so an
//! error comes back as a value of class `rdesk_error` holding R's message,
//! and eval-mode requests from this client are wrapped the same way on the R
//! side. [`Client`] turns such values (and those of classes
//! `OCAP-eval-error`, `Rserve-eval-error` and `try-error` used by other
//! Rserve set-ups) into [`Error::RError`].

use std::fmt;
use std::time::Duration;

use tokio::net::{TcpStream, ToSocketAddrs};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::http::HeaderValue;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

use crate::codec::{self, DecodeLimits, Param};
use crate::error::{Error, Result};
use crate::protocol::{self, Banner, Header};
use crate::rsyntax;
use crate::signature::{
    GLOBAL_SIGNATURES, Signature, capability_arguments, list_names, signatures,
};
use crate::tls;
use crate::transport::{ByteStream, StreamError, Transport};
use crate::value::{Value, Vector};

/// Class of the value `start.R` and this client's eval wrappers return for an R error.
pub const ERROR_CLASS: &str = "rdesk_error";
const NOT_CALLABLE_CLASS: &str = "rdesk_not_callable";
/// Global variable that carries eval-mode call arguments (removed right after use).
const ARGS_SYMBOL: &str = ".rdesk_args";
/// Upper bound on out-of-band messages skipped while waiting for one answer.
const MAX_OOB_MESSAGES: usize = 10_000;

/// How the server lets clients run R code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Plain Rserve: the client may evaluate any R expression (trusted clients only).
    Eval,
    /// Object capabilities: the client may only call the functions `oc.init()` handed out.
    Ocap,
}

impl fmt::Display for Mode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Mode::Eval => "eval",
            Mode::Ocap => "OCAP",
        })
    }
}

/// A request above this size whose connection ends before its answer is
/// taken as refused for its size ([`Error::RequestDropped`]): 1 MiB, the
/// smallest input buffer (`maxinbuf`) Rserve Desk gives an app.
pub const DROPPED_REQUEST_SUSPECT_BYTES: u64 = 1 << 20;

/// Default for [`ClientOptions::max_message_bytes`]: 64 MiB.
pub const DEFAULT_MAX_MESSAGE_BYTES: u64 = 64 << 20;

/// Limits of a connection.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Opening the connection and reading the server's greeting.
    pub connect_timeout: Duration,
    /// Each request, from sending it to the complete answer.
    pub request_timeout: Duration,
    /// Largest message accepted from the server (guards against garbage
    /// lengths from servers that are not Rserve), by default
    /// [`DEFAULT_MAX_MESSAGE_BYTES`]. Memory is taken only as bytes arrive.
    pub max_message_bytes: u64,
    /// How much decoding one answer may produce (elements in total).
    pub decode_limits: DecodeLimits,
    /// For `wss://`: PEM certificates trusted besides the system's roots
    /// (which honour `SSL_CERT_FILE` and `SSL_CERT_DIR`), e.g. a private CA.
    pub extra_roots_pem: Option<Vec<u8>>,
    /// What proves the caller may use the app: the argument of the first OCAP
    /// capability, or the password of an eval server's login.
    pub token: Option<AccessToken>,
}

/// A credential for an app; `Debug` never shows it.
#[derive(Clone, PartialEq, Eq)]
pub struct AccessToken(String);

impl AccessToken {
    pub fn new(token: impl Into<String>) -> Self {
        Self(token.into())
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AccessToken(<redacted>)")
    }
}

/// User name of the plain-text login to eval servers (the token is the password).
const LOGIN_USER: &str = "rdesk";

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
            decode_limits: DecodeLimits::default(),
            extra_roots_pem: None,
            token: None,
        }
    }
}

/// A connection to Rserve. Requests run one at a time (`&mut self`).
pub struct Client {
    transport: Transport,
    target: String,
    mode: Mode,
    banner: Option<Banner>,
    capabilities: Value,
    functions: Vec<(String, String)>,
    options: ClientOptions,
    broken: Option<String>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("target", &self.target)
            .field("mode", &self.mode)
            .field("functions", &self.functions())
            .field("broken", &self.broken)
            .finish_non_exhaustive()
    }
}

impl Client {
    /// Connects over TCP (e.g. `"127.0.0.1:6311"`) with default options.
    pub async fn connect_tcp<A: ToSocketAddrs + fmt::Display>(addr: A) -> Result<Client> {
        Self::connect_tcp_with(addr, ClientOptions::default()).await
    }

    /// Connects over TCP.
    pub async fn connect_tcp_with<A: ToSocketAddrs + fmt::Display>(
        addr: A,
        options: ClientOptions,
    ) -> Result<Client> {
        let target = addr.to_string();
        let timeout = options.connect_timeout;
        let connecting = async {
            let stream = TcpStream::connect(addr)
                .await
                .map_err(|source| Error::Connect {
                    target: target.clone(),
                    source,
                })?;
            // Small requests should leave at once.
            let _ = stream.set_nodelay(true);
            Self::handshake(
                Transport::Stream(Box::new(stream)),
                target.clone(),
                options.clone(),
            )
            .await
        };
        tokio::time::timeout(timeout, connecting)
            .await
            .map_err(|_| Error::ConnectTimeout { target, timeout })?
    }

    /// Speaks QAP1 over a byte stream that is already open (a Unix socket, a
    /// forwarded channel, an in-memory pipe); `target` names it in errors.
    pub async fn connect_stream<S: ByteStream + 'static>(
        stream: S,
        target: &str,
        options: ClientOptions,
    ) -> Result<Client> {
        let timeout = options.connect_timeout;
        let handshake = Self::handshake(
            Transport::Stream(Box::new(stream)),
            target.to_string(),
            options,
        );
        tokio::time::timeout(timeout, handshake)
            .await
            .map_err(|_| Error::ConnectTimeout {
                target: target.to_string(),
                timeout,
            })?
    }

    /// Connects over WebSocket (`ws://host:port/path`, subprotocol `QAP1`)
    /// with default options.
    pub async fn connect_ws(url: &str) -> Result<Client> {
        Self::connect_ws_with(url, ClientOptions::default()).await
    }

    /// Connects over WebSocket, `ws://` or `wss://` (TLS, checked against
    /// the system's roots and [`ClientOptions::extra_roots_pem`]).
    pub async fn connect_ws_with(url: &str, options: ClientOptions) -> Result<Client> {
        let invalid = |reason: &str| Error::InvalidUrl {
            url: url.to_string(),
            reason: reason.to_string(),
        };
        if !url.starts_with("ws://") && !url.starts_with("wss://") {
            return Err(invalid("the URL must start with ws:// or wss://"));
        }
        let connector = match &options.extra_roots_pem {
            Some(pem) if url.starts_with("wss://") => {
                Some(tls::connector(pem).map_err(|reason| Error::Tls {
                    url: url.to_string(),
                    reason,
                })?)
            }
            _ => None,
        };
        let mut request = url
            .into_client_request()
            .map_err(|e| invalid(&e.to_string()))?;
        request
            .headers_mut()
            .insert("Sec-WebSocket-Protocol", HeaderValue::from_static("QAP1"));
        let max = usize::try_from(options.max_message_bytes).unwrap_or(usize::MAX);
        let config = WebSocketConfig::default()
            .max_message_size(Some(max))
            .max_frame_size(Some(max));
        let timeout = options.connect_timeout;
        let target = url.to_string();
        let connecting = async {
            let (socket, _response) = tokio_tungstenite::connect_async_tls_with_config(
                request,
                Some(config),
                true,
                connector,
            )
            .await
            .map_err(|e| Error::WebSocket {
                url: target.clone(),
                source: Box::new(e),
            })?;
            let transport = Transport::WebSocket {
                socket: Box::new(socket),
                pending: Default::default(),
            };
            Self::handshake(transport, target.clone(), options.clone()).await
        };
        tokio::time::timeout(timeout, connecting)
            .await
            .map_err(|_| Error::ConnectTimeout { target, timeout })?
    }

    async fn handshake(
        mut transport: Transport,
        target: String,
        options: ClientOptions,
    ) -> Result<Client> {
        let handshake_error = |reason: String| Error::Handshake {
            target: target.clone(),
            reason,
        };
        let read_error = |e: StreamError| match e {
            StreamError::Closed => {
                handshake_error("the connection closed before a complete Rserve greeting".into())
            }
            StreamError::Io(source) => Error::Io {
                context: "reading the Rserve greeting".into(),
                target: target.clone(),
                source,
            },
            StreamError::WebSocket(e) => Error::WebSocket {
                url: target.clone(),
                source: Box::new(e),
            },
        };
        let first = transport.read_exact(4).await.map_err(read_error)?;
        let (mode, banner, capabilities) = if first == b"Rsrv" {
            let mut bytes = first;
            bytes.extend(
                transport
                    .read_exact(protocol::BANNER_LEN - 4)
                    .await
                    .map_err(read_error)?,
            );
            let banner = protocol::parse_banner(&bytes).map_err(handshake_error)?;
            (Mode::Eval, Some(banner), Value::Null)
        } else if first == protocol::CMD_OC_INIT.to_le_bytes() {
            let mut bytes = first;
            bytes.extend(
                transport
                    .read_exact(Header::SIZE - 4)
                    .await
                    .map_err(read_error)?,
            );
            let mut raw = [0u8; Header::SIZE];
            raw.copy_from_slice(&bytes);
            let header = Header::from_bytes(&raw);
            if header.len > options.max_message_bytes {
                return Err(handshake_error(format!(
                    "the OCAP greeting announces {} bytes, more than the {} allowed",
                    header.len, options.max_message_bytes
                )));
            }
            let body = transport
                .read_exact(header.len as usize)
                .await
                .map_err(read_error)?;
            let capabilities = match codec::first_param_with(&body, &options.decode_limits) {
                Ok(Some(Param::Sexp(value))) => value,
                Ok(other) => {
                    return Err(handshake_error(format!(
                        "the OCAP greeting carries no R value ({other:?})"
                    )));
                }
                Err(source) => {
                    return Err(Error::Codec {
                        context: format!("decoding the OCAP capabilities from {target}"),
                        source,
                    });
                }
            };
            (Mode::Ocap, None, capabilities)
        } else {
            return Err(handshake_error(format!(
                "expected the Rserve banner (\"Rsrv...\") or an OCAP greeting (\"RsOC...\"), got {}",
                protocol::printable(&first)
            )));
        };
        let functions = capability_functions(&capabilities);
        let mut client = Client {
            transport,
            target,
            mode,
            banner,
            capabilities,
            functions,
            options,
            broken: None,
        };
        client.open().await?;
        Ok(client)
    }

    /// Gets past the app's door: logs in to an eval server that asks for a
    /// login, or calls an OCAP server's first capability for the functions.
    async fn open(&mut self) -> Result<()> {
        let refused = |target: &str, reason: &str| Error::AccessRefused {
            target: target.to_owned(),
            reason: reason.to_owned(),
        };
        let token = self.options.token.clone();
        match (&self.mode, &self.capabilities) {
            (Mode::Eval, _) => {
                let methods: Vec<String> = self
                    .banner
                    .as_ref()
                    .map(|b| b.auth_methods().into_iter().map(str::to_owned).collect())
                    .unwrap_or_default();
                if methods.is_empty() {
                    return Ok(());
                }
                let Some(token) = token else {
                    return Err(refused(
                        &self.target,
                        "the server needs a login (give a token)",
                    ));
                };
                if !methods.iter().any(|m| m == "pt") {
                    return Err(refused(
                        &self.target,
                        &format!(
                            "the server offers only logins this client does not do ({})",
                            methods.join(", ")
                        ),
                    ));
                }
                let body = codec::param_string(&format!("{LOGIN_USER}\n{}", token.expose()))
                    .map_err(|_| refused(&self.target, "the token cannot be sent (NUL in it)"))?;
                match self.request(protocol::CMD_LOGIN, body, "logging in").await {
                    Ok(_) => Ok(()),
                    Err(Error::Server { .. } | Error::Closed { .. }) => Err(refused(
                        &self.target,
                        "the login was refused: the token is wrong or revoked",
                    )),
                    Err(e) => Err(e),
                }
            }
            (Mode::Ocap, Value::Ocap(first)) => {
                let first = first.clone();
                let args: Vec<(Option<String>, Value)> = token
                    .iter()
                    .map(|t| (None, Value::string(t.expose())))
                    .collect();
                let call = codec::encode_call(&Value::string(first), &args).map_err(|source| {
                    Error::Codec {
                        context: "encoding the call of the first capability".into(),
                        source,
                    }
                })?;
                let body = self.sexp_param(&call)?;
                let answer = self
                    .request(
                        protocol::CMD_OC_CALL,
                        body,
                        "asking for the app's functions",
                    )
                    .await;
                let functions = match answer {
                    Ok(answer) => self.expect_sexp(answer, "the first capability")?,
                    Err(Error::RError { .. }) => {
                        return Err(refused(
                            &self.target,
                            if token.is_some() {
                                "the app does not accept this token (wrong or revoked)"
                            } else {
                                "the app needs a token"
                            },
                        ));
                    }
                    Err(e) => return Err(e),
                };
                self.functions = capability_functions(&functions);
                self.capabilities = functions;
                Ok(())
            }
            (Mode::Ocap, _) => Ok(()),
        }
    }

    /// The server's mode.
    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// Where this client is connected (address or URL).
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The banner (eval mode only; OCAP servers send none).
    pub fn banner(&self) -> Option<&Banner> {
        self.banner.as_ref()
    }

    /// The named list of function capabilities (what the first capability
    /// answered, or what `oc.init()` returned when it handed out the list
    /// itself); `NULL` in eval mode.
    pub fn capabilities(&self) -> &Value {
        &self.capabilities
    }

    /// Names of the functions the server lets this client call, in the
    /// server's order: the named OCAP references of the function list.
    /// Empty in eval mode, where [`Client::list_functions`] asks the server.
    pub fn functions(&self) -> Vec<&str> {
        self.functions
            .iter()
            .map(|(name, _)| name.as_str())
            .collect()
    }

    /// The callable functions in either mode: the capabilities in OCAP mode,
    /// the functions of the global environment in eval mode.
    pub async fn list_functions(&mut self) -> Result<Vec<String>> {
        match self.mode {
            Mode::Ocap => Ok(self
                .functions
                .iter()
                .map(|(name, _)| name.clone())
                .collect()),
            Mode::Eval => {
                let value = self
                    .eval_raw(&format!("{}()", GLOBAL_FUNCTIONS), "listing functions")
                    .await?;
                Ok(strings_of(&value))
            }
        }
    }

    /// The callable functions with their formal arguments, in either mode:
    /// in OCAP mode as the function list's `rdesk_arguments` attribute says
    /// (unknown when the server sets none), in eval mode asked of the
    /// global environment.
    pub async fn list_signatures(&mut self) -> Result<Vec<Signature>> {
        match self.mode {
            Mode::Ocap => {
                let names = self.list_functions().await?;
                Ok(signatures(&names, capability_arguments(&self.capabilities)))
            }
            Mode::Eval => {
                let value = self
                    .eval_raw(&format!("{GLOBAL_SIGNATURES}()"), "listing functions")
                    .await?;
                Ok(signatures(&list_names(&value), Some(&value)))
            }
        }
    }

    /// Calls the function `name` with positional arguments, in either mode.
    pub async fn call(&mut self, name: &str, args: Vec<Value>) -> Result<Value> {
        self.call_named(name, args.into_iter().map(|v| (None, v)).collect())
            .await
    }

    /// Calls `name` with JSON arguments and returns the result as JSON
    /// (conversions as documented in [`crate::json`]).
    pub async fn call_json(
        &mut self,
        name: &str,
        args: &[serde_json::Value],
    ) -> Result<serde_json::Value> {
        let args = args.iter().map(Value::from_json).collect();
        Ok(self.call(name, args).await?.to_json())
    }

    /// [`Client::call_json`] with arguments that may be named, as
    /// [`Client::call_named`] takes them.
    pub async fn call_json_named(
        &mut self,
        name: &str,
        args: &[(Option<String>, serde_json::Value)],
    ) -> Result<serde_json::Value> {
        let args = args
            .iter()
            .map(|(arg_name, value)| (arg_name.clone(), Value::from_json(value)))
            .collect();
        Ok(self.call_named(name, args).await?.to_json())
    }

    /// Calls `name` with arguments that may be named (`Some("x")` is `x = value`).
    ///
    /// OCAP mode: a `CMD_OCcall` with the reference of `name`; a name that is
    /// not among [`Client::functions`] gives [`Error::NotCallable`] without
    /// asking the server (which would hang up).
    ///
    /// Eval mode: `name` must be an R identifier; the arguments are assigned
    /// to a temporary global variable with `CMD_setSEXP`, then the server
    /// evaluates `do.call(name, args)` inside `tryCatch`.
    pub async fn call_named(
        &mut self,
        name: &str,
        args: Vec<(Option<String>, Value)>,
    ) -> Result<Value> {
        match self.mode {
            Mode::Ocap => self.ocap_call(name, &args).await,
            Mode::Eval => self.eval_call(name, args).await,
        }
    }

    /// Evaluates R code (eval mode only) in the global environment and
    /// returns the value of the last expression. R errors, parse errors
    /// included, come back as [`Error::RError`] with R's message.
    pub async fn eval(&mut self, code: &str) -> Result<Value> {
        self.require_eval("eval")?;
        let literal = rsyntax::string_literal(code).map_err(|reason| Error::InvalidArgument {
            reason: format!("the R code cannot be sent: {reason}"),
        })?;
        let wrapped = format!(
            "tryCatch(eval(parse(text = {literal}, keep.source = FALSE), envir = globalenv()), \
             error = {ERROR_HANDLER})"
        );
        let value = self.eval_raw(&wrapped, "eval").await?;
        check_r_error(value)
    }

    /// Assigns `value` to the global variable `symbol` (eval mode only).
    pub async fn set(&mut self, symbol: &str, value: &Value) -> Result<()> {
        self.require_eval("set")?;
        rsyntax::check_identifier(symbol).map_err(|reason| Error::InvalidName {
            name: symbol.to_string(),
            reason,
        })?;
        self.set_unchecked(symbol, value).await
    }

    /// Closes the connection.
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_secs(1), self.transport.close()).await;
    }

    // ------------------------------------------------------------ internals

    fn require_eval(&self, operation: &str) -> Result<()> {
        match self.mode {
            Mode::Eval => Ok(()),
            Mode::Ocap => Err(Error::WrongMode {
                operation: operation.to_string(),
                mode: self.mode,
            }),
        }
    }

    async fn ocap_call(&mut self, name: &str, args: &[(Option<String>, Value)]) -> Result<Value> {
        let Some(token) = self
            .functions
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, t)| t.clone())
        else {
            return Err(Error::NotCallable {
                name: name.to_string(),
                available: self.functions.iter().map(|(n, _)| n.clone()).collect(),
            });
        };
        let call =
            codec::encode_call(&Value::string(token), args).map_err(|source| Error::Codec {
                context: format!("encoding the arguments of {name}"),
                source,
            })?;
        let body = self.sexp_param(&call)?;
        let answer = self
            .request(protocol::CMD_OC_CALL, body, &format!("calling {name}"))
            .await?;
        check_r_error(self.expect_sexp(answer, name)?)
    }

    async fn eval_call(&mut self, name: &str, args: Vec<(Option<String>, Value)>) -> Result<Value> {
        rsyntax::check_identifier(name).map_err(|reason| Error::InvalidName {
            name: name.to_string(),
            reason,
        })?;
        let literal = rsyntax::string_literal(name).map_err(|reason| Error::InvalidName {
            name: name.to_string(),
            reason,
        })?;
        let named = args.iter().any(|(n, _)| n.is_some());
        let (names, values): (Vec<Option<String>>, Vec<Value>) = args
            .into_iter()
            .map(|(n, v)| (Some(n.unwrap_or_default()), v))
            .unzip();
        let mut list = Vector::new(values);
        if named {
            list.attributes
                .set("names", Value::Character(Vector::new(names)));
        }
        self.set_unchecked(ARGS_SYMBOL, &Value::List(list)).await?;
        let code = format!(
            "local({{ args <- get(\"{ARGS_SYMBOL}\", envir = globalenv()); \
             rm(\"{ARGS_SYMBOL}\", envir = globalenv()); \
             if (!exists({literal}, envir = globalenv(), mode = \"function\")) \
             structure(list(available = {GLOBAL_FUNCTIONS}()), class = \"{NOT_CALLABLE_CLASS}\") \
             else tryCatch(do.call({literal}, args, quote = TRUE, envir = globalenv()), \
             error = {ERROR_HANDLER}) }})"
        );
        let value = self.eval_raw(&code, &format!("calling {name}")).await?;
        if value.inherits(NOT_CALLABLE_CLASS) {
            let mut available = value.get("available").map(strings_of).unwrap_or_default();
            available.sort();
            return Err(Error::NotCallable {
                name: name.to_string(),
                available,
            });
        }
        check_r_error(value)
    }

    async fn set_unchecked(&mut self, symbol: &str, value: &Value) -> Result<()> {
        let mut body = codec::param_string(symbol).map_err(|source| Error::Codec {
            context: format!("encoding the name {symbol:?}"),
            source,
        })?;
        let encoded = value.to_qap().map_err(|source| Error::Codec {
            context: format!("encoding the value for {symbol}"),
            source,
        })?;
        body.extend(self.sexp_param(&encoded)?);
        self.request(protocol::CMD_SET_SEXP, body, &format!("assigning {symbol}"))
            .await?;
        Ok(())
    }

    /// Sends R code as `CMD_eval` and returns the decoded result.
    async fn eval_raw(&mut self, code: &str, operation: &str) -> Result<Value> {
        self.require_eval(operation)?;
        let body = codec::param_string(code).map_err(|source| Error::Codec {
            context: format!("encoding the request for {operation}"),
            source,
        })?;
        let answer = self.request(protocol::CMD_EVAL, body, operation).await?;
        self.expect_sexp(answer, operation)
    }

    fn sexp_param(&self, encoded: &[u8]) -> Result<Vec<u8>> {
        codec::param_sexp(encoded).map_err(|source| Error::Codec {
            context: "framing the request".into(),
            source,
        })
    }

    fn expect_sexp(&self, answer: Option<Param>, operation: &str) -> Result<Value> {
        match answer {
            Some(Param::Sexp(value)) => Ok(value),
            other => Err(Error::Protocol {
                target: self.target.clone(),
                reason: format!("the answer to {operation} carries no R value ({other:?})"),
            }),
        }
    }

    /// Sends one request and waits for its answer, within the request timeout.
    /// Failures that leave the stream in an unknown state close it for good.
    async fn request(&mut self, cmd: u32, body: Vec<u8>, operation: &str) -> Result<Option<Param>> {
        if let Some(reason) = &self.broken {
            return Err(Error::Broken {
                target: self.target.clone(),
                reason: reason.clone(),
            });
        }
        let timeout = self.options.request_timeout;
        let bytes = (Header::SIZE + body.len()) as u64;
        let result = match tokio::time::timeout(timeout, self.exchange(cmd, body, operation)).await
        {
            Ok(result) => result.map_err(|e| self.dropped_if_large(e, bytes)),
            Err(_) => Err(Error::Timeout {
                operation: operation.to_string(),
                target: self.target.clone(),
                timeout,
            }),
        };
        if let Err(e) = &result
            && matches!(
                e,
                Error::Timeout { .. }
                    | Error::RequestDropped { .. }
                    | Error::Io { .. }
                    | Error::Closed { .. }
                    | Error::Protocol { .. }
                    | Error::WebSocket { .. }
            )
        {
            self.broken = Some(e.to_string());
            let _ = tokio::time::timeout(Duration::from_secs(1), self.transport.close()).await;
        }
        result
    }

    async fn exchange(
        &mut self,
        cmd: u32,
        body: Vec<u8>,
        operation: &str,
    ) -> Result<Option<Param>> {
        let header = Header {
            cmd,
            len: body.len() as u64,
            msg_id: 0,
        };
        let mut message = header.to_bytes().to_vec();
        message.extend(body);
        self.transport
            .send(message)
            .await
            .map_err(|e| self.stream_error(e, &format!("sending the request for {operation}")))?;

        let waiting = format!("waiting for the answer to {operation}");
        for _ in 0..MAX_OOB_MESSAGES {
            let raw = self
                .transport
                .read_exact(Header::SIZE)
                .await
                .map_err(|e| self.stream_error(e, &waiting))?;
            let mut bytes = [0u8; Header::SIZE];
            bytes.copy_from_slice(&raw);
            let answer = Header::from_bytes(&bytes);
            if answer.len > self.options.max_message_bytes {
                return Err(Error::Protocol {
                    target: self.target.clone(),
                    reason: format!(
                        "an answer of {} bytes exceeds the limit of {} bytes",
                        answer.len, self.options.max_message_bytes
                    ),
                });
            }
            if answer.cmd & protocol::CMD_OOB != 0 && answer.cmd & protocol::CMD_RESP == 0 {
                // Out-of-band data from R code; nothing here consumes it.
                self.transport
                    .skip(answer.len)
                    .await
                    .map_err(|e| self.stream_error(e, &waiting))?;
                if answer.cmd & 0x0fff_f000 == protocol::OOB_MSG {
                    let reply =
                        codec::param_string("this client does not handle out-of-band messages")
                            .map_err(|source| Error::Codec {
                                context: "answering an out-of-band message".into(),
                                source,
                            })?;
                    let header = Header {
                        cmd: answer.cmd | protocol::RESP_ERR,
                        len: reply.len() as u64,
                        msg_id: answer.msg_id,
                    };
                    let mut message = header.to_bytes().to_vec();
                    message.extend(reply);
                    self.transport
                        .send(message)
                        .await
                        .map_err(|e| self.stream_error(e, "answering an out-of-band message"))?;
                }
                continue;
            }
            let body = self
                .transport
                .read_exact(answer.len as usize)
                .await
                .map_err(|e| self.stream_error(e, &waiting))?;
            return match answer.cmd & 0x00ff_ffff {
                protocol::RESP_OK => codec::first_param_with(&body, &self.options.decode_limits)
                    .map_err(|source| Error::Codec {
                        context: format!("decoding the answer to {operation}"),
                        source,
                    }),
                protocol::RESP_ERR => Err(self.refusal(cmd, protocol::cmd_stat(answer.cmd))),
                other => Err(Error::Protocol {
                    target: self.target.clone(),
                    reason: format!("unexpected message type {other:#x} in answer to {operation}"),
                }),
            };
        }
        Err(Error::Protocol {
            target: self.target.clone(),
            reason: format!(
                "more than {MAX_OOB_MESSAGES} out-of-band messages before the answer to {operation}"
            ),
        })
    }

    fn refusal(&self, cmd: u32, stat: u8) -> Error {
        if stat == protocol::STAT_R_ERROR {
            return Error::RError {
                message: "R signalled an error; Rserve sent no message (the server's log has it)"
                    .into(),
            };
        }
        if (1..=4).contains(&stat) && cmd == protocol::CMD_EVAL {
            return Error::RError {
                message: format!("R could not parse the request (parse status {stat})"),
            };
        }
        Error::Server {
            command: protocol::command_name(cmd),
            code: stat,
            name: protocol::error_name(stat).unwrap_or("unknown error"),
        }
    }

    /// A connection that ended during a request larger than
    /// [`DROPPED_REQUEST_SUSPECT_BYTES`] becomes [`Error::RequestDropped`]:
    /// Rserve ends it without an answer when the request does not fit.
    fn dropped_if_large(&self, e: Error, bytes: u64) -> Error {
        let ended = matches!(
            e,
            Error::Io { .. } | Error::Closed { .. } | Error::WebSocket { .. }
        );
        if ended && bytes > DROPPED_REQUEST_SUSPECT_BYTES {
            Error::RequestDropped {
                target: self.target.clone(),
                bytes,
                reason: e.to_string(),
            }
        } else {
            e
        }
    }

    fn stream_error(&self, e: StreamError, context: &str) -> Error {
        match e {
            StreamError::Closed => Error::Closed {
                target: self.target.clone(),
                context: context.to_string(),
            },
            StreamError::Io(source) => Error::Io {
                context: context.to_string(),
                target: self.target.clone(),
                source,
            },
            StreamError::WebSocket(source) => Error::WebSocket {
                url: self.target.clone(),
                source: Box::new(source),
            },
        }
    }
}

/// R function (as source) listing the functions of the global environment.
const GLOBAL_FUNCTIONS: &str = "(function() { e <- globalenv(); n <- ls(e); \
     n[vapply(n, function(x) is.function(get(x, envir = e)), logical(1))] })";

/// R error handler (as source) turning a condition into an `rdesk_error` value.
const ERROR_HANDLER: &str =
    "function(e) structure(list(message = conditionMessage(e)), class = \"rdesk_error\")";

/// The named OCAP references of `oc.init()`'s result.
fn capability_functions(capabilities: &Value) -> Vec<(String, String)> {
    let Value::List(list) = capabilities else {
        return Vec::new();
    };
    let Some(names) = list.attributes.names() else {
        return Vec::new();
    };
    names
        .iter()
        .zip(&list.values)
        .filter_map(|(name, value)| match (name, value) {
            (Some(name), Value::Ocap(token)) if !name.is_empty() => {
                Some((name.clone(), token.clone()))
            }
            _ => None,
        })
        .collect()
}

fn strings_of(value: &Value) -> Vec<String> {
    match value {
        Value::Character(v) => v.values.iter().flatten().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Turns an error value from R into [`Error::RError`]; passes others through.
fn check_r_error(value: Value) -> Result<Value> {
    let classes = value.class();
    let is_error = [
        ERROR_CLASS,
        "OCAP-eval-error",
        "Rserve-eval-error",
        "try-error",
    ]
    .iter()
    .any(|c| classes.contains(c));
    if !is_error {
        return Ok(value);
    }
    let message = ["message", "error"]
        .iter()
        .find_map(|field| value.get(field).and_then(Value::as_str))
        .or_else(|| value.as_str())
        .map(|m| m.trim_end().to_string())
        .unwrap_or_else(|| "R signalled an error without a message".to_string());
    Err(Error::RError { message })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_values_become_r_errors() {
        let err = Value::named_list([("message", Value::string("boom"))]);
        let mut err = err;
        if let Some(a) = err.attributes_mut() {
            a.set("class", Value::string(ERROR_CLASS));
        }
        match check_r_error(err) {
            Err(Error::RError { message }) => assert_eq!(message, "boom"),
            other => panic!("unexpected {other:?}"),
        }
        let mut try_error = Value::string("Error in f() : nope\n");
        if let Some(a) = try_error.attributes_mut() {
            a.set("class", Value::string("try-error"));
        }
        match check_r_error(try_error) {
            Err(Error::RError { message }) => assert_eq!(message, "Error in f() : nope"),
            other => panic!("unexpected {other:?}"),
        }
        assert_eq!(
            check_r_error(Value::double(1.0)).unwrap(),
            Value::double(1.0)
        );
    }

    #[test]
    fn capabilities_are_the_named_references() {
        let caps = Value::named_list([
            ("add", Value::Ocap("t1".into())),
            ("not_a_ref", Value::double(1.0)),
            ("greet", Value::Ocap("t2".into())),
        ]);
        assert_eq!(
            capability_functions(&caps),
            vec![
                ("add".to_string(), "t1".to_string()),
                ("greet".to_string(), "t2".to_string())
            ]
        );
        assert!(capability_functions(&Value::Ocap("t".into())).is_empty());
    }

    #[test]
    fn not_callable_lists_what_is() {
        let e = Error::NotCallable {
            name: "system".into(),
            available: vec!["add".into(), "greet".into()],
        };
        assert_eq!(
            e.to_string(),
            "`system` is not a function this server lets you call; available: add, greet"
        );
    }

    #[tokio::test]
    async fn a_refused_upgrade_reports_its_http_status() {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = [0u8; 1024];
            let _ = socket.read(&mut buf).await.unwrap();
            socket
                .write_all(b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n")
                .await
                .unwrap();
        });
        let err = Client::connect_ws(&format!("ws://{addr}/gone"))
            .await
            .unwrap_err();
        assert_eq!(err.http_status(), Some(404), "{err}");
        server.await.unwrap();
        let refused = Error::InvalidUrl {
            url: "x".into(),
            reason: "y".into(),
        };
        assert_eq!(refused.http_status(), None);
    }
}
