# Rserve Desk: the start-up of every app container (the user never writes it).
#
#   Rscript /opt/rserve/start.R
#
# Environment:
#   APP_DIR      folder with the app's R files (default /app, read-only)
#   RSERVE_MODE  "ocap" (default): clients may call only the app's top-level
#                functions, through Rserve object capabilities;
#                "eval": plain Rserve eval, for trusted clients only
#   QAP_PORT     QAP1 over TCP (default 6311)
#   WS_PORT      QAP1 over WebSocket, subprotocol "QAP1" (default 8081)
#
# What it does:
#   1. sources every *.R file under APP_DIR (recursively, in C-locale order of
#      their relative paths) into one app environment; a file that fails to
#      parse or run stops the start with a non-zero exit and a message naming
#      the file and R's error;
#   2. ocap mode: defines oc.init() returning a named list of Rserve::ocap()
#      wrappers, one per top-level function of those files whose name does not
#      start with "." (helpers defined inside functions, base and package
#      functions are never exposed); each wrapper accepts only values as
#      arguments (no symbols or calls, which Rserve would evaluate) and turns
#      an R error into a value of class "rdesk_error" (list(message = R's
#      message)) because Rserve itself sends no error text back for a failed
#      OCAP call;
#      eval mode: copies the app's objects into the global environment, where
#      Rserve evaluates;
#   3. if the app defines a top-level function health(), calls it and stops
#      (non-zero exit, R's message) unless it returns TRUE, so a version that
#      cannot serve never listens and never turns healthy;
#   4. writes an Rserve configuration into a private temporary folder and runs
#      Rserve in the foreground with it (no user-written Rserve configuration,
#      no authentication, no plain-text passwords), with APP_DIR as the
#      working directory of every call.

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

    if (!requireNamespace("Rserve", quietly = TRUE))
        fail("the R package Rserve is not installed")
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

    if (mode == "ocap") {
        # Registered per connection: oc.init() runs in the forked child that
        # serves one client, so every client gets its own random references.
        rdesk_error <- function(message) structure(list(message = message), class = "rdesk_error")
        make_oc_init <- function(app, exposed) {
            force(app)
            force(exposed)
            function() {
                caps <- lapply(exposed, function(name) {
                    fun <- get(name, envir = app, inherits = FALSE)
                    wrapper <- function(...) {
                        # Rserve evaluates the call it receives, so an argument
                        # that is a symbol or a call would run as R code
                        # before the function sees it: only values may pass.
                        args <- as.list(substitute(list(...)))[-1L]
                        if (any(vapply(args, is.language, logical(1))))
                            return(rdesk_error("arguments must be values, not R symbols or calls"))
                        tryCatch(fun(...), error = function(e) rdesk_error(conditionMessage(e)))
                    }
                    Rserve::ocap(wrapper, name)
                })
                names(caps) <- exposed
                caps
            }
        }
        assign("oc.init", make_oc_init(app, exposed), envir = globalenv())
    } else {
        for (n in ls(app, all.names = TRUE)) assign(n, get(n, envir = app), envir = globalenv())
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
        "auth disable",
        "plaintext disable",
        "fileio disable",
        "shutdown disable",
        "interactive no",
        "daemon disable",
        "keep.alive enable",
        "encoding utf8",
        if (mode == "ocap") c("qap.oc enable", "websockets.qap.oc enable")
    )
    conf_file <- file.path(work, "Rserve.conf")
    writeLines(conf, conf_file)
    Sys.chmod(conf_file, mode = "0600")

    cat(sprintf("rserve-desk: %s mode, QAP port %d, WebSocket port %d, %s: %s\n",
                mode, qap_port, ws_port,
                if (mode == "ocap") "exposed functions" else "functions visible to eval",
                if (length(exposed)) paste(exposed, collapse = ", ") else "(none)"))
    flush(stdout())

    # An empty `workdir` (which the file format cannot express) keeps Rserve
    # from moving each connection into a folder of its own under /tmp/Rserv.
    Rserve::run.Rserve(config.file = conf_file, workdir = "")
})
