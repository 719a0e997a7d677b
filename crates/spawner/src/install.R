# rserve-desk's packages-layer installer, run as root at build time.
# Inputs, next to this file (written by the spawner, every value validated):
#   setup.R   `repos` (in order, the first named CRAN; "{codename}" in Posit
#             Package Manager's snapshot URLs) and `user_agent`
#   packages  one "name version" a line; version "*" when not pinned
# A pinned version comes from a repository's current packages or its
# src/contrib/Archive; all of them are gathered in a local repository first,
# so that install.packages() installs them (and the rest) in dependency order.
# A failure ends with one line "rserve-desk: <sentence>" and status 1.

here <- "/tmp/rserve-desk"
say <- function(...) {
  message("rserve-desk: ", ...)
  quit(save = "no", status = 1L)
}
lines <- function(name) {
  x <- readLines(file.path(here, name), warn = FALSE)
  x[nzchar(x)]
}

source(file.path(here, "setup.R"))
os <- readLines("/etc/os-release", warn = FALSE)
codename <- gsub("\"", "", sub("^VERSION_CODENAME=", "", grep("^VERSION_CODENAME=", os, value = TRUE)))
repos[] <- gsub("{codename}", codename[1], repos, fixed = TRUE)
# Posit Package Manager serves binaries only to a user agent naming R's version and platform.
options(repos = repos, HTTPUserAgent = user_agent, Ncpus = 2L)

wanted <- do.call(rbind, strsplit(lines("packages"), " ", fixed = TRUE))
if (is.null(wanted)) quit(save = "no", status = 0L)
pinned <- wanted[wanted[, 2] != "*", , drop = FALSE]
unreadable <- function(c) say("a package repository cannot be read: ", trimws(gsub("\\s+", " ", conditionMessage(c))))
offered <- withCallingHandlers(available.packages(repos = repos), warning = unreadable, error = unreadable)

local <- file.path(here, "pinned")
contrib <- file.path(local, "src", "contrib")
dir.create(contrib, recursive = TRUE)
# Downloads the first of `urls` that answers to `dest`; FALSE when none does.
fetch <- function(urls, dest) {
  partial <- paste0(dest, ".part")
  for (url in urls) {
    ok <- tryCatch(
      suppressWarnings(download.file(url, partial, quiet = TRUE, mode = "wb")) == 0L,
      error = function(e) FALSE
    )
    if (ok) return(file.rename(partial, dest))
    unlink(partial)
  }
  FALSE
}
missing <- character()
for (i in seq_len(nrow(pinned))) {
  pkg <- pinned[i, 1]
  version <- pinned[i, 2]
  file <- sprintf("%s_%s.tar.gz", pkg, version)
  current <- if (pkg %in% rownames(offered) && offered[pkg, "Version"] == version) {
    file.path(offered[pkg, "Repository"], file)
  }
  urls <- unique(c(
    current,
    file.path(repos, "src", "contrib", file),
    file.path(repos, "src", "contrib", "Archive", pkg, file)
  ))
  if (!fetch(urls, file.path(contrib, file))) {
    missing <- c(missing, sprintf("%s %s", pkg, version))
  }
}
if (length(missing)) {
  say(
    "renv.lock asks for ", paste(missing, collapse = ", "),
    ", which none of the repositories (", paste(repos, collapse = ", "),
    ") has, current or archived"
  )
}

available <- offered
if (nrow(pinned)) {
  tools::write_PACKAGES(contrib, type = "source")
  mine <- available.packages(repos = paste0("file://", local), type = "source")
  available <- rbind(mine, offered[!rownames(offered) %in% rownames(mine), , drop = FALSE])
}
install.packages(wanted[, 1], available = available, repos = c(paste0("file://", local), repos))

broken <- character()
for (i in seq_len(nrow(wanted))) {
  pkg <- wanted[i, 1]
  version <- wanted[i, 2]
  if (!requireNamespace(pkg, quietly = TRUE)) {
    broken <- c(broken, pkg)
  } else if (version != "*" && packageVersion(pkg) != package_version(version)) {
    broken <- c(broken, sprintf("%s %s (got %s)", pkg, version, packageVersion(pkg)))
  }
}
if (length(broken)) say("could not install R packages: ", paste(broken, collapse = ", "))
