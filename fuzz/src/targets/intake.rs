//! Target `intake`: archive and folder intake ([`rdesk_core::intake::collect`],
//! then [`detect_packages`] on what it accepted), through real files in a
//! temporary folder, as the shells call it.
//!
//! The first byte of an input says what the rest is: a tar stream that is
//! gzipped after mutation (so the tar reader sees the mutations, not only
//! the decompressor), raw `.tar.gz` bytes, a plain `.tar`, a `.zip`, or a
//! script that builds a folder (files, folders, symbolic links inside and
//! out, sockets) for the folder checks. Tar header checksums are fixed up
//! after mutation half of the time, so mutated headers get past the checksum.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use rdesk_core::intake::{self, Limits, detect_packages};
use tar::EntryType;
use zip::write::SimpleFileOptions;

use super::{Outcome, Target, from_seeds};
use crate::rng::Rng;

const MAX_INPUT: usize = 8192;

/// What the bytes after the first one are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    TarThenGzip,
    TarGz,
    Tar,
    Zip,
    Folder,
}

const KINDS: [Kind; 5] = [
    Kind::TarThenGzip,
    Kind::TarGz,
    Kind::Tar,
    Kind::Zip,
    Kind::Folder,
];

impl Kind {
    fn of(byte: u8) -> Kind {
        KINDS[usize::from(byte) % KINDS.len()]
    }

    fn tag(self) -> u8 {
        KINDS.iter().position(|k| *k == self).unwrap_or(0) as u8
    }
}

pub struct Intake {
    seeds: Vec<Vec<u8>>,
    dir: tempfile::TempDir,
    limits: Limits,
}

/// One entry of a seed archive.
struct Entry {
    name: &'static str,
    kind: EntryType,
    data: &'static [u8],
    link: &'static str,
}

const fn file(name: &'static str, data: &'static [u8]) -> Entry {
    Entry {
        name,
        kind: EntryType::Regular,
        data,
        link: "",
    }
}

const APP_R: &[u8] = b"library(dplyr)\nrequire(\"jsonlite\")\nf <- function(x) stats::sd(x)\n";

fn seed_apps() -> Vec<Vec<Entry>> {
    vec![
        vec![
            file("myapp/app.R", APP_R),
            file(
                "myapp/R/util.r",
                b"g <- function() data.table::data.table()\n",
            ),
            file(
                "myapp/DESCRIPTION",
                b"Package: x\nImports: ggplot2, tidyr (>= 1.0)\n",
            ),
            file("myapp/data/x.csv", b"a,b\n1,2\n"),
        ],
        vec![
            file("app.R", APP_R),
            file(".git/config", b"[core]\n"),
            file("__MACOSX/._app.R", b"junk"),
            file("renv.lock", b"{\"Packages\": {}}"),
        ],
        vec![
            file("app.R", APP_R),
            Entry {
                name: "link.R",
                kind: EntryType::Symlink,
                data: b"",
                link: "../../etc/passwd",
            },
            Entry {
                name: "hard.R",
                kind: EntryType::Link,
                data: b"",
                link: "app.R",
            },
        ],
        vec![
            file("../evil.R", b"x <- 1\n"),
            file("/abs.R", b"x <- 1\n"),
            file("a/./b/../c.R", b"x <- 1\n"),
        ],
        vec![file(
            "top/a-very-long-folder-name-that-needs-a-gnu-long-name-or-a-pax-header-because-it-is-longer-than-one-hundred-bytes/app.R",
            APP_R,
        )],
    ]
}

fn tar_of(entries: &[Entry]) -> anyhow::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(Vec::new());
    for entry in entries {
        let mut header = tar::Header::new_gnu();
        header.set_entry_type(entry.kind);
        header.set_size(entry.data.len() as u64);
        header.set_mode(0o644);
        if !entry.link.is_empty() {
            header.set_link_name(entry.link)?;
        }
        if entry.name.len() < 100 && !entry.name.contains("..") && !entry.name.starts_with('/') {
            header.set_path(entry.name)?;
            header.set_cksum();
            builder.append(&header, entry.data)?;
        } else {
            // Names the crate refuses to set (too long or unsafe) go in raw,
            // with a GNU long-name entry in front when long.
            if entry.name.len() >= 100 {
                let mut long = tar::Header::new_gnu();
                long.set_entry_type(EntryType::GNULongName);
                long.set_size(entry.name.len() as u64 + 1);
                if let Some(gnu) = long.as_gnu_mut() {
                    gnu.name[..13].copy_from_slice(b"././@LongLink");
                }
                long.set_cksum();
                builder.append(&long, [entry.name.as_bytes(), &[0]].concat().as_slice())?;
            }
            let n = entry.name.len().min(99);
            if let Some(gnu) = header.as_gnu_mut() {
                gnu.name[..n].copy_from_slice(&entry.name.as_bytes()[..n]);
            }
            header.set_cksum();
            builder.append(&header, entry.data)?;
        }
    }
    Ok(builder.into_inner()?)
}

fn zip_of(entries: &[Entry], method: zip::CompressionMethod) -> anyhow::Result<Vec<u8>> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = SimpleFileOptions::default().compression_method(method);
    for entry in entries {
        match entry.kind {
            EntryType::Symlink => writer.add_symlink(entry.name, entry.link, options)?,
            EntryType::Regular => {
                writer.start_file(entry.name, options)?;
                writer.write_all(entry.data)?;
            }
            _ => {}
        }
    }
    Ok(writer.finish()?.into_inner())
}

fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    // Writing to a Vec cannot fail.
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

/// Folder scripts: records of (operation, name length, name, argument).
fn folder_seeds() -> Vec<Vec<u8>> {
    let record =
        |op: u8, name: &[u8], arg: u8| [&[op, name.len() as u8][..], name, &[arg]].concat();
    vec![
        [
            record(4, b"app.R", 0),
            record(1, b"sub", 0),
            record(0, b"sub/data.csv", 3),
        ]
        .concat(),
        [
            record(4, b"app.R", 1),
            record(2, b"inside.R", 3),
            record(2, b"out", 0),
        ]
        .concat(),
        [
            record(4, b"a/b/app.R", 0),
            record(2, b"a/b/loop", 1),
            record(3, b"sock", 0),
        ]
        .concat(),
        [
            record(4, b"app.R", 2),
            record(0, b".git/HEAD", 1),
            record(0, b"\xff\xfe.R", 1),
        ]
        .concat(),
    ]
}

impl Intake {
    pub fn new() -> anyhow::Result<Self> {
        let mut seeds = Vec::new();
        let tagged = |kind: Kind, bytes: &[u8]| [&[kind.tag()][..], bytes].concat();
        for app in seed_apps() {
            let tar = tar_of(&app)?;
            seeds.push(tagged(Kind::TarThenGzip, &tar));
            seeds.push(tagged(Kind::TarGz, &gzip(&tar)));
            seeds.push(tagged(Kind::Tar, &tar));
            seeds.push(tagged(
                Kind::Zip,
                &zip_of(&app, zip::CompressionMethod::Stored)?,
            ));
            seeds.push(tagged(
                Kind::Zip,
                &zip_of(&app, zip::CompressionMethod::Deflated)?,
            ));
        }
        seeds.extend(folder_seeds().iter().map(|s| tagged(Kind::Folder, s)));
        Ok(Intake {
            seeds,
            dir: scratch_dir()?,
            limits: Limits::default(),
        })
    }

    fn take_in(&self, path: PathBuf) -> Outcome {
        match intake::collect(&[path], &self.limits) {
            Ok(source) => {
                let _ = detect_packages(&source);
                Outcome::Accepted
            }
            Err(_) => Outcome::Refused,
        }
    }

    fn archive(&self, name: &str, bytes: &[u8]) -> Outcome {
        let path = self.dir.path().join(name);
        if let Err(e) = std::fs::write(&path, bytes) {
            return Outcome::Broken(format!("cannot write the input file: {e}"));
        }
        self.take_in(path)
    }

    fn folder(&self, script: &[u8]) -> Outcome {
        let root = self.dir.path().join("folder");
        let _ = std::fs::remove_dir_all(&root);
        if let Err(e) = std::fs::create_dir(&root) {
            return Outcome::Broken(format!("cannot make the input folder: {e}"));
        }
        build_folder(&root, script);
        let outcome = self.take_in(root.join("app"));
        let _ = std::fs::remove_dir_all(&root);
        outcome
    }
}

/// Where the inputs are written: in memory (`/dev/shm`) when there is such
/// a place, which makes the run about fifteen times faster than on disk.
fn scratch_dir() -> std::io::Result<tempfile::TempDir> {
    let builder = tempfile::Builder::new().prefix("rdesk-fuzz-").to_owned();
    let shm = Path::new("/dev/shm");
    if shm.is_dir()
        && let Ok(dir) = builder.tempdir_in(shm)
    {
        return Ok(dir);
    }
    builder.tempdir()
}

/// A path under `base` from raw name bytes: `/` separates folders, NUL is
/// replaced, `.` and `..` become plain names (the links test escaping).
fn path_from(base: &Path, name: &[u8]) -> PathBuf {
    let mut path = base.to_path_buf();
    for part in name.split(|b| *b == b'/').filter(|p| !p.is_empty()) {
        let part: Vec<u8> = part
            .iter()
            .map(|b| if *b == 0 { b'_' } else { *b })
            .collect();
        match part.as_slice() {
            b"." | b".." => path.push("_"),
            _ => path.push(std::ffi::OsStr::from_bytes(&part)),
        }
    }
    path
}

/// Builds `root/app` from a script; what cannot be made is left out.
fn build_folder(root: &Path, script: &[u8]) {
    let app = root.join("app");
    let _ = std::fs::create_dir(&app);
    let mut rest = script;
    for _ in 0..16 {
        let [op, len, tail @ ..] = rest else { break };
        let len = usize::from(*len).min(tail.len());
        let (name, tail) = tail.split_at(len);
        let (arg, tail) = tail.split_first().map_or((0, tail), |(a, t)| (*a, t));
        rest = tail;
        let path = path_from(&app, name);
        if let Some(parent) = path.parent() {
            let _ = std::fs::create_dir_all(parent);
        }
        let _ = match op % 5 {
            0 => std::fs::write(&path, name.repeat(usize::from(arg))),
            1 => std::fs::create_dir_all(&path),
            2 => {
                let target: PathBuf = match arg % 6 {
                    0 => root.to_path_buf(),
                    1 => path.parent().unwrap_or(&app).to_path_buf(),
                    2 => PathBuf::from("/nonexistent-rdesk-fuzz"),
                    3 => app.join("app.R"),
                    4 => PathBuf::from("../.."),
                    _ => PathBuf::from(std::ffi::OsStr::from_bytes(name)),
                };
                std::os::unix::fs::symlink(target, &path)
            }
            3 => std::os::unix::net::UnixListener::bind(&path).map(drop),
            _ => std::fs::write(&path, [APP_R, &name.repeat(usize::from(arg % 8))].concat()),
        };
    }
}

/// Recomputes the checksum of every 512-byte block that looks like a ustar
/// or GNU header, so that mutated header fields are read, not refused.
fn fix_tar_checksums(data: &mut [u8]) {
    for block in data.chunks_exact_mut(512) {
        if &block[257..262] != b"ustar" {
            continue;
        }
        block[148..156].fill(b' ');
        let sum: u32 = block.iter().map(|b| u32::from(*b)).sum();
        let text = format!("{sum:06o}\0 ");
        block[148..156].copy_from_slice(text.as_bytes());
    }
}

impl Target for Intake {
    fn name(&self) -> &'static str {
        "intake"
    }

    /// What intake may keep in memory: the default total of an app's files.
    fn cap_bytes(&self) -> usize {
        self.limits.max_total_bytes as usize
    }

    fn input(&self, rng: &mut Rng) -> Vec<u8> {
        let mut data = from_seeds(rng, &self.seeds, MAX_INPUT);
        let Some((&tag, body)) = data.split_first() else {
            return data;
        };
        if matches!(Kind::of(tag), Kind::TarThenGzip | Kind::Tar) && rng.one_in(2) {
            let mut body = body.to_vec();
            fix_tar_checksums(&mut body);
            data = [&[tag][..], &body].concat();
        }
        data
    }

    fn feed(&mut self, input: &[u8]) -> Outcome {
        let Some((&tag, body)) = input.split_first() else {
            return self.archive("empty.zip", input);
        };
        match Kind::of(tag) {
            Kind::TarThenGzip => self.archive("input.tar.gz", &gzip(body)),
            Kind::TarGz => self.archive("input.tgz", body),
            Kind::Tar => self.archive("input.tar", body),
            Kind::Zip => self.archive("input.zip", body),
            Kind::Folder => self.folder(body),
        }
    }
}
