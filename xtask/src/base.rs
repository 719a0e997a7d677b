//! The `rserve-base:4.2.2` image, built from `rserve-base/` on
//! `debian:bookworm` (whose R is 4.2.2). A label holds the hash of the files
//! it was built from; the image is built again only when they change.

use anyhow::{Result, bail};

use crate::debian::short;
use crate::docker::{self, Build};
use crate::facts::{BASE_IMAGE, DEBIAN_IMAGE, HASH_LABEL, R_VERSION, Standin};
use crate::sh;
use crate::state::hash_tree;
use crate::ui::{self, Health, Outcome};

/// Files of `rserve-base/` the image is built from: all but docs and dotfiles.
fn skip(rel: &std::path::Path) -> bool {
    let name = rel.file_name().unwrap_or_default().to_string_lossy();
    name.starts_with('.') || name.ends_with(".md")
}

fn wanted_hash(st: &Standin) -> Result<String> {
    let debian = docker::image(DEBIAN_IMAGE)
        .map(|i| i.id)
        .unwrap_or_default();
    hash_tree(
        &st.base_context(),
        &skip,
        &[R_VERSION, DEBIAN_IMAGE, &debian],
    )
}

pub fn up(st: &Standin) -> Result<Outcome> {
    let context = st.base_context();
    for needed in ["Dockerfile", "start.R", "healthcheck.sh"] {
        if !context.join(needed).is_file() {
            bail!(
                "{} is missing: rserve-base cannot be built without it",
                context.join(needed).display()
            );
        }
    }
    let hash = wanted_hash(st)?;
    let old = docker::image(BASE_IMAGE);
    if let Some(img) = &old
        && img.hash() == Some(hash.as_str())
    {
        return ui::already(format!(
            "image {BASE_IMAGE} ({}), rserve-base/ unchanged",
            short(&img.id)
        ));
    }
    let log = st.log("rserve-base");
    ui::note(format!(
        "docker build {BASE_IMAGE} from rserve-base/ with BASE_IMAGE={DEBIAN_IMAGE} (log: {})",
        log.display()
    ));
    let mut build = Build::new(BASE_IMAGE, &context);
    build.build_args = vec![
        ("R_VERSION", R_VERSION.to_string()),
        ("BASE_IMAGE", DEBIAN_IMAGE.to_string()),
    ];
    build.labels = vec![(HASH_LABEL, hash)];
    build.run(&log)?;
    let new = docker::image(BASE_IMAGE).map(|i| i.id).unwrap_or_default();
    if let Some(old) = old
        && old.id != new
    {
        // Drop the old image unless containers or app images still use it.
        sh::succeeds(docker::docker().args(["image", "rm", &old.id]));
    }
    ui::done(format!("built image {BASE_IMAGE} ({})", short(&new)))
}

pub fn status(st: &Standin) -> Health {
    match (docker::image(BASE_IMAGE), wanted_hash(st)) {
        (Some(img), Ok(hash)) if img.hash() == Some(hash.as_str()) => {
            ui::healthy(format!("{BASE_IMAGE} up to date ({})", short(&img.id)))
        }
        (Some(img), _) => ui::unhealthy(format!(
            "{BASE_IMAGE} ({}) is older than rserve-base/",
            short(&img.id)
        )),
        (None, _) => ui::unhealthy(format!("image {BASE_IMAGE} missing")),
    }
}
