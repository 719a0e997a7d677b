# Rserve Desk: the start-up of every app container (the user never writes it).
#
#   Rscript /opt/rserve/start.R
#
# Environment:
#   APP_DIR       folder with the app's R files (default /app, read-only)
#   RSERVE_MODE   "ocap" (default): clients may call only the app's top-level
#                 functions, through Rserve object capabilities;
#                 "eval": plain Rserve eval, for trusted clients only
#   QAP_PORT      QAP1 over TCP (default 6311)
#   WS_PORT       QAP1 over WebSocket, subprotocol "QAP1" (default 8081)
#   RDESK_ACCESS  "public" (anyone who reaches the app) or "token" (default:
#                 callers present a token; eval mode always needs one)
#   RDESK_TOKENS  file of the app's token hashes (default
#                 /run/rserve-desk/access/tokens, a read-only mount), one line
#                 per token: id, SHA-256 of the token (hex), created, name,
#                 separated by tabs; read again at every login, so a token
#                 added or revoked counts from the next login on
#   RDESK_MEMORY_MB  the container's memory limit; Rserve's input buffer is
#                 limited to an eighth and its send buffer to a quarter of it,
#                 so an oversized request is refused (ERR_data_overflow)
#                 instead of the container being killed
#
# What it does:
#   1. sources every *.R file under APP_DIR (recursively, in C-locale order of
#      their relative paths) into one app environment; a file that fails to
#      parse or run stops the start with a non-zero exit and a message naming
#      the file and R's error;
#   2. ocap mode: defines oc.init() returning ONE capability, as rserve-js and
#      RCloud expect (`s.ocap(cb)` calls it):
#      - public: calling it (arguments are ignored, never evaluated) returns
#        the named list of the app's function capabilities;
#      - token: it is `authenticate(token)`; the token's SHA-256 is compared in
#        constant time with every stored hash; a right token returns the
#        function list, a missing, malformed, wrong or revoked one an R error,
#        and the third failure on one connection ends that connection;
#      each function capability wraps one top-level function of those files
#      whose name does not start with "." (helpers defined inside functions,
#      base and package functions are never exposed); a wrapper accepts only
#      plain values as arguments, checked recursively through lists and
#      attributes (no symbols, calls, formulas, functions, environments, S4
#      objects or external pointers, which Rserve would evaluate or which
#      could run code), and turns an R error into a value of class
#      "rdesk_error" (list(message = R's message)) because Rserve itself
#      sends no error text back for a failed OCAP call; the list carries an
#      attribute "rdesk_arguments" after its names: by function, a character
#      vector naming each formal argument with its default as R source ("" for
#      none), which clients may use to offer a form (rserve-js ignores it);
#      eval mode: copies the app's objects into the global environment, where
#      Rserve evaluates, and requires a QAP login (user name ignored, the
#      token as password) checked by the same token comparison;
#   3. if the app defines a top-level function health(), calls it and stops
#      (non-zero exit, R's message) unless it returns TRUE, so a version that
#      cannot serve never listens and never turns healthy;
#   4. writes an Rserve configuration into a private temporary folder and runs
#      Rserve in the foreground with it (no user-written Rserve configuration,
#      no plain-text password file), with APP_DIR as the working directory of
#      every call.

local({
    fail <- function(...) {
        message("start.R: ", ...)
        quit(save = "no", status = 1L, runLast = FALSE)
    }

    env_port <- function(name, default) {
        raw <- Sys.getenv(name, "")
        if (!nzchar(raw)) return(default)
        if (!grepl("^[0-9]{1,5}$", raw)) fail(name, " must be a TCP port number, got '", raw, "'")
        port <- as.integer(raw)
        if (port < 1L || port > 65535L) fail(name, " must be between 1 and 65535, got ", raw)
        port
    }

    app_dir <- Sys.getenv("APP_DIR", "")
    if (!nzchar(app_dir)) app_dir <- "/app"
    mode <- tolower(Sys.getenv("RSERVE_MODE", ""))
    if (!nzchar(mode)) mode <- "ocap"
    if (!mode %in% c("ocap", "eval"))
        fail("RSERVE_MODE must be 'ocap' or 'eval', got '", Sys.getenv("RSERVE_MODE"), "'")
    qap_port <- env_port("QAP_PORT", 6311L)
    ws_port <- env_port("WS_PORT", 8081L)
    if (qap_port == ws_port) fail("QAP_PORT and WS_PORT must differ (both are ", qap_port, ")")
    access <- tolower(Sys.getenv("RDESK_ACCESS", ""))
    if (!nzchar(access)) access <- "token"
    if (!access %in% c("public", "token"))
        fail("RDESK_ACCESS must be 'public' or 'token', got '", Sys.getenv("RDESK_ACCESS"), "'")
    if (mode == "eval" && access != "token")
        fail("an eval-mode app hands R to its callers, so it is never public: RDESK_ACCESS must be 'token'")
    tokens_file <- Sys.getenv("RDESK_TOKENS", "")
    if (!nzchar(tokens_file)) tokens_file <- "/run/rserve-desk/access/tokens"
    memory_mb <- Sys.getenv("RDESK_MEMORY_MB", "")
    if (nzchar(memory_mb) && !grepl("^[0-9]{2,7}$", memory_mb))
        fail("RDESK_MEMORY_MB must be a number of megabytes, got '", memory_mb, "'")

    if (!requireNamespace("Rserve", quietly = TRUE))
        fail("the R package Rserve is not installed")
    if (access == "token" && !requireNamespace("digest", quietly = TRUE))
        fail("the R package digest (SHA-256 of tokens) is not installed")
    if (!dir.exists(app_dir)) fail("APP_DIR '", app_dir, "' is not a folder")
    app_dir <- normalizePath(app_dir, mustWork = TRUE)
    # Relative paths in the app (read.csv("data/x.csv")) resolve against
    # APP_DIR, while loading and in every call (Rserve keeps this folder, see
    # `workdir` below). APP_DIR is read-only: write to tempdir().
    setwd(app_dir)

    # Relative paths sorted byte-wise, so the order does not depend on the locale.
    files <- list.files(app_dir, pattern = "[.][Rr]$", recursive = TRUE,
                        full.names = FALSE, include.dirs = FALSE)
    files <- sort(files, method = "radix")
    if (length(files) == 0L) fail("no .R files found under APP_DIR '", app_dir, "'")

    app <- new.env(parent = globalenv())
    for (rel in files) {
        path <- file.path(app_dir, rel)
        ok <- tryCatch({
            exprs <- parse(file = path, keep.source = FALSE, encoding = "UTF-8")
            for (e in exprs) eval(e, envir = app)
            TRUE
        }, error = function(e) {
            message("start.R: loading ", rel, " failed: ", conditionMessage(e))
            FALSE
        })
        if (!ok) fail("stopping: ", rel, " (under ", app_dir, ") could not be loaded")
    }

    # The app's own health check: a top-level function `health()` must return
    # TRUE before Rserve listens, so a version that cannot serve never turns
    # healthy and never receives traffic (it stays callable like any function).
    if (exists("health", envir = app, inherits = FALSE) &&
        is.function(get("health", envir = app, inherits = FALSE))) {
        verdict <- tryCatch(get("health", envir = app)(), error = function(e) e)
        if (inherits(verdict, "error"))
            fail("stopping: health() failed: ", conditionMessage(verdict))
        if (!isTRUE(verdict))
            fail("stopping: health() returned ", paste(deparse(verdict), collapse = " "),
                 " instead of TRUE")
        cat("rserve-desk: health() returned TRUE\n")
    }

    # Top-level functions of the app, by name; a leading "." marks a private one.
    names_all <- sort(ls(app, all.names = TRUE), method = "radix")
    is_fun <- vapply(names_all, function(n) is.function(get(n, envir = app, inherits = FALSE)),
                     logical(1))
    exposed <- names_all[is_fun & !startsWith(names_all, ".")]

    # Each exposed function's arguments, for clients that offer a form: a
    # named list (by function) of character vectors naming each formal
    # argument, whose values are its default as R source ("" for none).
    function_arguments <- function(app, exposed) {
        arguments <- lapply(exposed, function(name) {
            formals_of <- formals(get(name, envir = app, inherits = FALSE))
            defaults <- vapply(formals_of, function(d) {
                if (is.symbol(d) && !nzchar(as.character(d))) ""
                else paste(deparse(d, width.cutoff = 500L), collapse = " ")
            }, character(1))
            structure(unname(defaults), names = names(formals_of))
        })
        names(arguments) <- exposed
        arguments
    }

    # A token is `rdt_<8 hex id>_<64 hex secret>`; the tokens file keeps only
    # its SHA-256. Every stored hash is compared, each in constant time, so
    # neither the answer's timing nor an early exit tells how close a guess was.
    token_pattern <- "^rdt_[0-9a-f]{8}_[0-9a-f]{64}$"
    token_is_valid <- function(token) {
        if (!is.character(token) || length(token) != 1L || is.na(token) ||
            !grepl(token_pattern, token)) return(FALSE)
        lines <- tryCatch(suppressWarnings(readLines(tokens_file, warn = FALSE)),
                          error = function(e) character())
        fields <- strsplit(lines, "\t", fixed = TRUE)
        stored <- vapply(fields, function(f) if (length(f) >= 2L) f[[2L]] else "", character(1))
        stored <- stored[grepl("^[0-9a-f]{64}$", stored)]
        given <- as.integer(charToRaw(digest::digest(token, algo = "sha256", serialize = FALSE)))
        matches <- vapply(stored, function(h) {
            sum(bitwXor(as.integer(charToRaw(h)), given)) == 0L
        }, logical(1))
        any(matches)
    }

    if (mode == "ocap") {
        # A value is data: the plain vector types and lists of them, with
        # attributes that are values too. Everything else (symbols, calls and
        # formulas, functions, environments, S4 objects, external pointers,
        # promises) is refused wherever it sits, up to 64 levels deep.
        value_types <- c("NULL", "logical", "integer", "double", "complex", "character",
                         "raw", "list")
        is_value <- function(x, depth = 0L) {
            if (depth > 64L || isS4(x) || !typeof(x) %in% value_types) return(FALSE)
            for (a in attributes(x)) if (!is_value(a, depth + 1L)) return(FALSE)
            if (is.list(x)) for (item in x) if (!is_value(item, depth + 1L)) return(FALSE)
            TRUE
        }
        rdesk_error <- function(message) structure(list(message = message), class = "rdesk_error")
        function_capabilities <- function(app, exposed) {
            caps <- lapply(exposed, function(name) {
                fun <- get(name, envir = app, inherits = FALSE)
                wrapper <- function(...) {
                    # Rserve evaluates the call it receives, so an argument
                    # that is not a value would run as R code before the
                    # function sees it: look at the arguments unevaluated.
                    args <- as.list(substitute(list(...)))[-1L]
                    if (!all(vapply(args, is_value, logical(1))))
                        return(rdesk_error(paste(
                            "arguments must be plain values (vectors and lists of them),",
                            "not R symbols, calls, formulas, functions, environments or S4 objects")))
                    tryCatch(fun(...), error = function(e) rdesk_error(conditionMessage(e)))
                }
                Rserve::ocap(wrapper, name)
            })
            names(caps) <- exposed
            # After `names`, which rserve-js reads as the first attribute.
            attr(caps, "rdesk_arguments") <- function_arguments(app, exposed)
            caps
        }
        # Registered per connection: oc.init() runs in the forked child that
        # serves one client, so every client gets its own random references
        # and its own count of failed logins.
        make_oc_init <- function(app, exposed, access) {
            force(app)
            force(exposed)
            force(access)
            function() {
                if (access == "public")
                    return(Rserve::ocap(function(...) function_capabilities(app, exposed),
                                        "functions"))
                failures <- 0L
                Rserve::ocap(function(token) {
                    given <- if (missing(token)) NULL else substitute(token)
                    if (token_is_valid(given)) return(function_capabilities(app, exposed))
                    failures <<- failures + 1L
                    if (failures >= 3L) {
                        message("rserve-desk: a connection gave 3 wrong tokens; closing it")
                        tools::pskill(Sys.getpid(), tools::SIGKILL)
                    }
                    # call. = FALSE: R would otherwise print the call, token and all, in the log.
                    stop(if (is.null(given)) "this app needs a token: call the first capability with it"
                         else "this token is not valid for this app (wrong or revoked)", call. = FALSE)
                }, "authenticate")
            }
        }
        assign("oc.init", make_oc_init(app, exposed, access), envir = globalenv())
    } else {
        for (n in ls(app, all.names = TRUE)) assign(n, get(n, envir = app), envir = globalenv())
        # Rserve's `auth.function`: called with c(user, password) at QAP login.
        assign(".rdesk_login", function(credentials) {
            length(credentials) == 2L && token_is_valid(credentials[[2L]])
        }, envir = globalenv())
    }

    # The configuration lives in a private temporary folder of this process.
    work <- file.path(tempdir(), "rserve")
    dir.create(work, mode = "0700", showWarnings = FALSE)
    conf <- c(
        "remote enable",
        "qap enable",
        sprintf("qap.port %d", qap_port),
        sprintf("websockets.port %d", ws_port),
        "websockets.qap enable",
        "websockets.text disable",
        if (mode == "eval") c("auth required", "plaintext enable", "auth.function .rdesk_login")
        else c("auth disable", "plaintext disable"),
        "fileio disable",
        "shutdown disable",
        "interactive no",
        "daemon disable",
        "keep.alive enable",
        "encoding utf8",
        if (mode == "ocap") c("qap.oc enable", "websockets.qap.oc enable"),
        # Both in kB; without a limit Rserve takes up to 256 MB in and sends anything.
        if (nzchar(memory_mb)) c(sprintf("maxinbuf %.0f", max(1024, as.numeric(memory_mb) * 128)),
                                 sprintf("maxsendbuf %.0f", max(2048, as.numeric(memory_mb) * 256)))
    )
    conf_file <- file.path(work, "Rserve.conf")
    writeLines(conf, conf_file)
    Sys.chmod(conf_file, mode = "0600")

    cat(sprintf("rserve-desk: %s mode, %s access, QAP port %d, WebSocket port %d, %s: %s\n",
                mode, access, qap_port, ws_port,
                if (mode == "ocap") "exposed functions" else "functions visible to eval",
                if (length(exposed)) paste(exposed, collapse = ", ") else "(none)"))
    flush(stdout())

    # An empty `workdir` (which the file format cannot express) keeps Rserve
    # from moving each connection into a folder of its own under /tmp/Rserv.
    Rserve::run.Rserve(config.file = conf_file, workdir = "")
})
