//! The `.deb` as a user gets it: installed with apt into a fresh Debian
//! container (the stand-in's base image), which must pull its dependencies
//! (WebKitGTK, the appindicator library, OpenSSH); then the installed
//! `rdesk --version` runs, the installed `rserve-desk` paints a window under
//! Xvfb there (its screenshot is saved under `<target>/package-e2e/`), and
//! the installed `rdesk` deploys an app to the stand-in and removes it.
//!
//! `cargo xtask test` packages the debug build (the same code as `cargo
//! xtask dist`) and names the `.deb` in `RDESK_PACKAGE_DEB`. The container
//! uses the host's network to reach the stand-in's sshd on 127.0.0.1; it is
//! named and labelled, and removed at the end, also after a failure. Only
//! apt's downloaded `.deb` files are kept between runs (a named volume):
//! apt still resolves and installs everything in each fresh container.
// Test code: a panic is how a test reports its failure.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use rdesk_e2e::display::target_dir;
use rdesk_e2e::vps::BASE_IMAGE;
use rdesk_e2e::{DockerKind, Standin, docker_objects, remove_leftovers};

/// The variable `cargo xtask test` names the `.deb` in.
const PACKAGE_VAR: &str = "RDESK_PACKAGE_DEB";
/// The label on every container this test starts.
const LABEL: &str = "rdesk-e2e=package";
/// Where apt keeps downloaded packages between runs.
const APT_CACHE_VOLUME: &str = "rdesk-e2e-package-apt-archives";
const SLUG: &str = "pkg-hello";
/// The packaged binaries, where the `.deb` installs them.
const BINARIES: &[&str] = &[
    "/usr/bin/rserve-desk",
    "/usr/bin/rdesk",
    "/usr/bin/rdesk-askpass",
];
/// What the `.deb` must make apt install.
const DEPENDENCIES: &[&str] = &[
    "libwebkit2gtk-4.1-0",
    "libayatana-appindicator3-1",
    "openssh-client",
];
/// What the test itself needs in the container: a display, a screenshot, a bus.
const TEST_TOOLS: &str = "xvfb x11-apps dbus";

fn docker(args: &[&str]) -> Output {
    Command::new("docker")
        .args(args)
        .output()
        .expect("docker runs")
}

/// Removes this test's containers (by label), whatever state they are in.
fn remove_containers() {
    let filter = format!("label={LABEL}");
    let ids = String::from_utf8(docker(&["ps", "-aq", "--filter", &filter]).stdout).unwrap();
    let ids: Vec<&str> = ids.split_whitespace().collect();
    if !ids.is_empty() {
        let mut args = vec!["rm", "-f"];
        args.extend(ids);
        docker(&args);
    }
}

/// A Debian container of our own, removed when dropped.
struct Container {
    name: String,
}

impl Container {
    fn start(mounts: &[(&Path, &str)]) -> Self {
        remove_containers();
        let name = format!("rdesk-e2e-package-{}", std::process::id());
        let mut args: Vec<String> = [
            "run",
            "-d",
            "--name",
            &name,
            "--label",
            LABEL,
            "--network",
            "host",
            "--shm-size",
            "512m",
            "-v",
            &format!("{APT_CACHE_VOLUME}:/var/cache/apt/archives"),
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        for (from, to) in mounts {
            args.push("-v".to_owned());
            args.push(format!("{}:{to}:ro", from.display()));
        }
        args.extend([BASE_IMAGE, "sleep", "infinity"].map(str::to_owned));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = docker(&args);
        assert!(
            out.status.success(),
            "docker run: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        Self { name }
    }

    /// `sh -c SCRIPT` in the container.
    fn sh(&self, script: &str) -> Output {
        docker(&["exec", &self.name, "sh", "-c", script])
    }

    /// `sh -c SCRIPT`, which must succeed; its stdout.
    fn ok(&self, script: &str) -> String {
        let out = self.sh(script);
        assert!(
            out.status.success(),
            "`{script}` failed in the container:\n{}\n{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        docker(&["rm", "-f", &self.name]);
    }
}

/// The `.deb` to install, or `None` (skipped) outside `cargo xtask test`;
/// under CI a missing package fails.
fn package() -> Option<PathBuf> {
    match std::env::var_os(PACKAGE_VAR) {
        Some(path) => {
            let path = PathBuf::from(path);
            assert!(path.is_file(), "{} is not a file", path.display());
            Some(path)
        }
        None => {
            assert!(
                std::env::var_os("CI").is_none(),
                "{PACKAGE_VAR} is not set: `cargo xtask test` packages the debug build first"
            );
            eprintln!("skipped: {PACKAGE_VAR} is not set (cargo xtask test sets it)");
            None
        }
    }
}

#[test]
fn the_deb_installs_with_apt_and_its_programs_work() {
    let Some(vps) = Standin::from_env("package") else {
        return;
    };
    let Some(deb) = package() else {
        return;
    };
    let deb_name = deb.file_name().unwrap().to_str().unwrap().to_owned();
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/hello");
    let container = Container::start(&[
        (deb.parent().unwrap(), "/pkg"),
        (Path::new(&vps.identity), "/keys/client_key"),
        (&examples, "/apps/hello"),
    ]);

    // apt resolves the package's dependencies from Debian.
    container.ok(&format!(
        "apt-get update -q && DEBIAN_FRONTEND=noninteractive apt-get install -y -q \
         --no-install-recommends /pkg/{deb_name}"
    ));
    let status = container.ok(&format!(
        "dpkg-query -W -f '${{Package}} ${{Status}}\\n' {}",
        DEPENDENCIES.join(" ")
    ));
    for dependency in DEPENDENCIES {
        assert!(
            status.contains(&format!("{dependency} install ok installed")),
            "{dependency} was not installed with the package:\n{status}"
        );
    }
    for binary in BINARIES {
        container.ok(&format!("test -x {binary}"));
    }
    container.ok("ls /usr/share/applications/*.desktop /usr/share/icons/hicolor/128x128/apps/rserve-desk.png");
    let desktop_entry = container.ok("cat /usr/share/applications/*.desktop");
    assert!(
        desktop_entry.contains("Exec=rserve-desk") && desktop_entry.contains("Icon=rserve-desk"),
        "{desktop_entry}"
    );

    let version = container.ok("rdesk --version");
    assert!(version.starts_with("rdesk "), "{version}");

    window_paints(&container);
    deploys_to_the_standin(&container, &vps);
}

/// The installed `rserve-desk` under Xvfb and its own D-Bus session paints
/// a window whose pixels are not all one colour.
fn window_paints(container: &Container) {
    container.ok(&format!(
        "DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends {TEST_TOOLS}"
    ));
    // The container shares the host's network, so its X display number is
    // one the host's abstract sockets leave free: Xvfb picks it (-displayfd).
    let start = "mkdir -p -m 0700 /tmp/rt && export XDG_RUNTIME_DIR=/tmp/rt && \
        (Xvfb -displayfd 3 -screen 0 1280x800x24 -nolisten tcp 3>/tmp/display 2>/tmp/xvfb.log &) && \
        while [ ! -s /tmp/display ]; do sleep 0.1; done && \
        DISPLAY=:$(cat /tmp/display) exec dbus-run-session -- rserve-desk >/tmp/desk.log 2>&1";
    let out = docker(&["exec", "-d", &container.name, "sh", "-c", start]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let deadline = Instant::now() + Duration::from_secs(90);
    let mut last;
    let shot = loop {
        let out = container.sh(
            "[ -s /tmp/display ] && DISPLAY=:$(cat /tmp/display) xwd -silent -name 'Rserve Desk'",
        );
        if out.status.success() {
            let shot = xwd::decode(&out.stdout);
            let (distinct, other) = shot.variety();
            if other * 100 >= shot.width * shot.height {
                break shot;
            }
            last = format!("{distinct} colour(s), {other} pixels off the main one");
        } else {
            last = String::from_utf8_lossy(&out.stderr).trim().to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "the installed rserve-desk never painted its window: {last}\n--- its log:\n{}",
            container
                .sh("cat /tmp/desk.log /tmp/xvfb.log")
                .stdout
                .escape_ascii()
        );
        std::thread::sleep(Duration::from_secs(1));
    };
    let dir = target_dir().join("package-e2e");
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("installed-window.png");
    shot.write_png(&path);
    eprintln!("the installed window: {}", path.display());
}

/// The installed `rdesk` adds the stand-in, deploys examples/hello, calls it
/// and removes it.
fn deploys_to_the_standin(container: &Container, vps: &Standin) {
    remove_leftovers(SLUG);
    container.ok(&format!(
        "rdesk host add vps --ssh {} --identity /keys/client_key --public-url {}",
        vps.ssh, vps.public_url
    ));
    let deployed = container.ok(&format!(
        "rdesk deploy /apps/hello --host vps --slug {SLUG}"
    ));
    assert!(deployed.contains("deployed"), "{deployed}");
    let mut answer = String::new();
    for _ in 0..40 {
        let out = container.sh(&format!(
            "rdesk call {SLUG} hello '\"package\"' --host vps --json"
        ));
        answer = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if out.status.success() {
            break;
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    assert_eq!(answer, "\"Hello, package!\"");
    container.ok(&format!("rdesk rm {SLUG} --host vps"));
    let left = docker_objects(
        DockerKind::Containers,
        &format!("io.rserve-desk.slug={SLUG}"),
    );
    assert!(left.is_empty(), "rdesk rm left containers: {left:?}");
    remove_leftovers(SLUG);
}

/// Just enough of the X Window Dump format for `xwd`'s screenshots of a
/// 24-bit TrueColor display (ZPixmap, 32 bits per pixel).
mod xwd {
    use std::path::Path;

    pub struct Shot {
        pub width: usize,
        pub height: usize,
        /// RGB, row by row.
        pub rgb: Vec<[u8; 3]>,
    }

    fn field(bytes: &[u8], index: usize) -> u32 {
        u32::from_be_bytes(bytes[index * 4..index * 4 + 4].try_into().unwrap())
    }

    /// The value of `pixel` under `mask`, scaled to 8 bits.
    fn channel(pixel: u32, mask: u32) -> u8 {
        let shift = mask.trailing_zeros();
        let max = mask >> shift;
        (((pixel & mask) >> shift) * 255 / max.max(1)) as u8
    }

    pub fn decode(bytes: &[u8]) -> Shot {
        assert!(
            bytes.len() >= 100,
            "not an XWD file ({} bytes)",
            bytes.len()
        );
        let header_size = field(bytes, 0) as usize;
        let (width, height) = (field(bytes, 4) as usize, field(bytes, 5) as usize);
        let byte_order = field(bytes, 7);
        let bits_per_pixel = field(bytes, 11);
        let bytes_per_line = field(bytes, 12) as usize;
        let masks = [field(bytes, 14), field(bytes, 15), field(bytes, 16)];
        let ncolors = field(bytes, 19) as usize;
        assert_eq!(bits_per_pixel, 32, "only 32-bit pixels are read");
        let start = header_size + ncolors * 12;
        let mut rgb = Vec::with_capacity(width * height);
        for y in 0..height {
            for x in 0..width {
                let at = start + y * bytes_per_line + x * 4;
                let raw: [u8; 4] = bytes[at..at + 4].try_into().unwrap();
                let pixel = if byte_order == 0 {
                    u32::from_le_bytes(raw)
                } else {
                    u32::from_be_bytes(raw)
                };
                rgb.push(masks.map(|m| channel(pixel, m)));
            }
        }
        Shot { width, height, rgb }
    }

    impl Shot {
        /// How many colours there are, and how many pixels are not the most common one.
        pub fn variety(&self) -> (usize, usize) {
            let mut counts = std::collections::HashMap::new();
            for p in &self.rgb {
                *counts.entry(*p).or_insert(0usize) += 1;
            }
            let most = counts.values().copied().max().unwrap_or(0);
            (counts.len(), self.rgb.len() - most)
        }

        pub fn write_png(&self, path: &Path) {
            let file = std::fs::File::create(path).unwrap();
            let mut encoder = png::Encoder::new(
                std::io::BufWriter::new(file),
                self.width as u32,
                self.height as u32,
            );
            encoder.set_color(png::ColorType::Rgb);
            encoder.set_depth(png::BitDepth::Eight);
            let data: Vec<u8> = self.rgb.iter().flatten().copied().collect();
            encoder
                .write_header()
                .unwrap()
                .write_image_data(&data)
                .unwrap();
        }
    }
}
