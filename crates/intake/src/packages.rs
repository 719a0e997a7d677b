//! Which R packages an app uses, found without running R: calls to
//! `library`/`require` (a name or a string; a variable with
//! `character.only = TRUE` is left out), `requireNamespace`/`loadNamespace`
//! (a string), `pkg::f` and `pkg:::f` in every `.R`/`.r` file; `Imports` and
//! `Depends` of a top-level `DESCRIPTION`; the `Packages` of a top-level
//! `renv.lock`. Comments and strings are not mistaken for code. Packages that
//! ship with R itself, and Rserve (in every base image), are left out; so is
//! anything that is not a valid package name. Also R's package-name rule.

use rdesk_spawner::PackageName;
use std::collections::BTreeSet;

use super::AppSource;
use super::dcf::dcf_fields;
use super::declared::read_lock;
use super::rlex::{Tok, tokenize};

/// Packages that come with every R installation (priority "base"), and
/// Rserve, which `rserve-base` installs.
const BUILT_IN: &[&str] = &[
    "base",
    "compiler",
    "datasets",
    "grDevices",
    "graphics",
    "grid",
    "methods",
    "parallel",
    "splines",
    "stats",
    "stats4",
    "tcltk",
    "tools",
    "utils",
    "Rserve",
];

/// The R packages `source` uses, sorted and without duplicates, built-in
/// packages left out. A `renv.lock` that is not valid JSON contributes
/// nothing (intake has already accepted the file; the build will say more).
pub fn detect_packages(source: &AppSource) -> Vec<String> {
    let mut found = BTreeSet::new();
    for file in source.r_files() {
        scan_r(&String::from_utf8_lossy(&file.contents), &mut found);
    }
    if let Some(desc) = source.file("DESCRIPTION") {
        scan_description(&String::from_utf8_lossy(&desc.contents), &mut found);
    }
    if let Some(lock) = source.file("renv.lock") {
        scan_renv_lock(&lock.contents, &mut found);
    }
    found
        .into_iter()
        .filter(|p| PackageName::parse(p).is_ok() && !is_built_in(p))
        .collect()
}

/// Whether R or every base image already has the package (base R's own, Rserve).
pub fn is_built_in(name: &str) -> bool {
    BUILT_IN.contains(&name)
}

/// Finds package use in R code.
pub(crate) fn scan_r(src: &str, found: &mut BTreeSet<String>) {
    let toks = tokenize(src);
    for (i, tok) in toks.iter().enumerate() {
        let next = toks.get(i + 1);
        match tok {
            Tok::Ident(name) | Tok::Str(name) if next == Some(&Tok::NsOp) => {
                found.insert(name.clone());
            }
            Tok::Ident(f) if next == Some(&Tok::Open('(')) => {
                let strings_only = match f.as_str() {
                    "library" | "require" => false,
                    "requireNamespace" | "loadNamespace" => true,
                    _ => continue,
                };
                if let Some(name) = package_argument(&toks[i + 2..], strings_only) {
                    found.insert(name);
                }
            }
            _ => {}
        }
    }
}

/// The package a `library(...)`-like call names, from the tokens after its
/// `(`: the argument named `package`, else the first positional one, if it
/// is a single name or string.
fn package_argument(toks: &[Tok], strings_only: bool) -> Option<String> {
    let args = top_level_args(toks);
    let mut named_package = None;
    let mut positional = None;
    let mut character_only = false;
    for arg in &args {
        match arg.as_slice() {
            [Tok::Ident(n), Tok::Assign, value @ ..] => match n.as_str() {
                "package" => named_package = Some(value),
                "character.only" => {
                    character_only = !matches!(value, [Tok::Ident(v)] if v == "FALSE" || v == "F");
                }
                _ => {}
            },
            value if positional.is_none() => positional = Some(value),
            _ => {}
        }
    }
    match named_package.or(positional)? {
        [Tok::Str(s)] => Some(s.clone()),
        [Tok::Ident(s)] if !strings_only && !character_only => Some(s.clone()),
        _ => None,
    }
}

/// Splits the tokens after a call's `(` into its top-level arguments, up to
/// the matching `)`.
fn top_level_args(toks: &[Tok]) -> Vec<Vec<Tok>> {
    let mut args = Vec::new();
    let mut current = Vec::new();
    let mut depth = 0usize;
    for tok in toks {
        match tok {
            Tok::Open(_) => depth += 1,
            Tok::Close(_) if depth == 0 => break,
            Tok::Close(_) => depth -= 1,
            Tok::Comma if depth == 0 => {
                args.push(std::mem::take(&mut current));
                continue;
            }
            _ => {}
        }
        current.push(tok.clone());
    }
    args.push(current);
    args
}

/// `Imports` and `Depends` of a DESCRIPTION file, version constraints and R
/// itself left out.
pub(crate) fn scan_description(text: &str, found: &mut BTreeSet<String>) {
    for (field, value) in dcf_fields(text) {
        if matches!(field.as_str(), "Imports" | "Depends") {
            for item in value.split(',') {
                let name = item.split('(').next().unwrap_or("").trim();
                if !name.is_empty() && name != "R" {
                    found.insert(name.to_owned());
                }
            }
        }
    }
}

/// The packages a `renv.lock` names, read as [`read_lock`] reads it.
pub(crate) fn scan_renv_lock(bytes: &[u8], found: &mut BTreeSet<String>) {
    match read_lock(bytes) {
        Ok(lock) => found.extend(lock.packages.into_iter().map(|p| p.name)),
        Err(e) => tracing::warn!("renv.lock's packages are not used: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::super::SourceFile;
    use super::*;

    fn source(files: &[(&str, &str)]) -> AppSource {
        let files: Vec<SourceFile> = files
            .iter()
            .map(|(p, c)| SourceFile {
                path: (*p).to_owned(),
                contents: c.as_bytes().to_vec(),
                executable: false,
            })
            .collect();
        AppSource {
            name_hint: "t".into(),
            total_bytes: 0,
            files,
            skipped: vec![],
        }
    }

    fn scan(src: &str) -> Vec<String> {
        let mut found = BTreeSet::new();
        scan_r(src, &mut found);
        found.into_iter().collect()
    }

    #[test]
    fn realistic_r_code() {
        let app = r#"
# Sales dashboard backend. library(notthis)
suppressPackageStartupMessages({
  library(dplyr)
  library("tidyr")
  require(lubridate, quietly = TRUE)
})
library(package = "readr")
if (!requireNamespace("jsonlite", quietly = TRUE)) stop("need jsonlite")
loadNamespace('httr')

#' @importFrom purrr map
summarise_sales <- function(df) {
  msg <- "call library(fake) or fake2::f in a string"
  df |>
    dplyr::group_by(region) |>
    data.table:::`[.data.table`() |>
    stats::aggregate(x ~ y, FUN = sum) |>
    `ggplot2`::ggplot()
  glue::glue("{x} sales")
  utils::head(df)
  Rserve::ocap(function() 1)
}
pkgs <- c("a1", "b2")
for (p in pkgs) library(p, character.only = TRUE)
library(help = "notinstalled")
hits <- stringr::str_detect(x, "a")
r"(library(rawfake))"
"#;
        let src = source(&[("app.R", app), ("R/more.r", "library(R6)\nlibrary(x)\n")]);
        assert_eq!(
            detect_packages(&src),
            [
                "R6",
                "data.table",
                "dplyr",
                "ggplot2",
                "glue",
                "httr",
                "jsonlite",
                "lubridate",
                "readr",
                "stringr",
                "tidyr"
            ]
        );
    }

    #[test]
    fn calls_that_name_no_package() {
        assert!(scan("library()").is_empty());
        assert!(scan("library(pkg_var, character.only = TRUE)").is_empty());
        assert_eq!(scan("library(shiny, character.only = FALSE)"), ["shiny"]);
        assert!(scan("requireNamespace(pkg)").is_empty());
        assert!(scan("library(paste0('a', 'b'))").is_empty());
        assert!(scan("my_library(zzz)").is_empty());
        assert_eq!(scan("library(`data.table`)"), ["data.table"]);
    }

    #[test]
    fn description_imports_and_depends() {
        let desc = "Package: salesapp\nVersion: 0.1\nDepends: R (>= 4.1.0), methods\n\
                    Imports:\n    dplyr (>= 1.1.0),\n    tidyr,\n\tjsonlite\n\
                    Suggests: testthat\nLinkingTo: Rcpp\n";
        let src = source(&[("app.R", ""), ("DESCRIPTION", desc)]);
        assert_eq!(detect_packages(&src), ["dplyr", "jsonlite", "tidyr"]);
        // Only the top-level DESCRIPTION counts.
        let src = source(&[("app.R", ""), ("sub/DESCRIPTION", desc)]);
        assert!(detect_packages(&src).is_empty());
    }

    #[test]
    fn renv_lock_packages() {
        let lock = r#"{
          "R": {"Version": "4.4.1", "Repositories": [{"Name": "CRAN", "URL": "https://cloud.r-project.org"}]},
          "Packages": {
            "R6": {"Package": "R6", "Version": "2.5.1", "Source": "Repository"},
            "jsonlite": {"Package": "jsonlite", "Version": "1.8.8"},
            "renv": {"Package": "renv", "Version": "1.0.7"},
            "Rserve": {"Package": "Rserve", "Version": "1.8-13"}
          }
        }"#;
        let src = source(&[("app.R", "library(plumber)"), ("renv.lock", lock)]);
        assert_eq!(detect_packages(&src), ["R6", "jsonlite", "plumber", "renv"]);
        let src = source(&[("app.R", "library(plumber)"), ("renv.lock", "{not json")]);
        assert_eq!(detect_packages(&src), ["plumber"]);
    }

    #[test]
    fn built_in_packages_and_bad_names_are_left_out() {
        let code = "library(stats); library(grid); tools::file_ext('x'); library(Rserve)\n\
                    library('bad;name'); library(\"a\"); x::y; library(\"ok.pkg\")";
        let src = source(&[("app.R", code)]);
        assert_eq!(detect_packages(&src), ["ok.pkg"]);
    }
}
