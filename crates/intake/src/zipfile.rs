//! Intake of `.zip` archives, read in place from the file: nothing is
//! extracted. Junk and folders are never decompressed.
//!
//! Entry names are decoded as the zip says (UTF-8 flag, else CP437);
//! backslashes count as separators. Only regular files and folders are taken
//! (by the Unix mode when the zip has one): symbolic links, devices, FIFOs
//! and sockets are refused, as are encrypted entries and compression methods
//! other than stored and deflate. A declared size over the per-file limit is
//! refused before reading; a smaller one is not believed: the bytes read are
//! counted, and an entry holding more or fewer bytes than it declares is
//! corrupt. The same name twice in the central directory is refused.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use zip::ZipArchive;
use zip::result::ZipError;

use super::collector::{Collector, TopFolder};
use super::names::{Backslash, junk_prefix, normalize};
use super::{AppSource, IntakeError, Limits, archive_stem};

const S_IFMT: u32 = 0o170_000;
const S_IFREG: u32 = 0o100_000;
const S_IFDIR: u32 = 0o040_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;
const S_IFBLK: u32 = 0o060_000;
const S_IFIFO: u32 = 0o010_000;
const S_IFSOCK: u32 = 0o140_000;

/// How much of a symbolic link's target is read, only to name it in the error.
const MAX_LINK_TARGET: u64 = 1024;

pub(crate) fn collect(path: &Path, limits: &Limits) -> Result<AppSource, IntakeError> {
    let file = File::open(path).map_err(|e| IntakeError::io(path, e))?;
    let mut archive = ZipArchive::new(BufReader::new(file))
        .map_err(|e| IntakeError::corrupt(path, e.to_string()))?;
    if archive.has_duplicate_names() {
        let name = duplicate_name(path, archive.central_directory_start(), limits)
            .unwrap_or_else(|| "(a name the zip's central directory lists twice)".to_owned());
        return Err(IntakeError::DuplicatePath { path: name });
    }
    if archive.len() > limits.max_entries() {
        let last = archive
            .name_for_index(archive.len() - 1)
            .and_then(Result::ok)
            .map(|n| n.into_owned())
            .unwrap_or_default();
        return Err(IntakeError::TooManyEntries {
            entry: last,
            limit: limits.max_entries(),
        });
    }
    let mut collector = Collector::new(limits);
    for index in 0..archive.len() {
        take_entry(path, &mut archive, index, &mut collector)?;
    }
    collector.finish(archive_stem(path), TopFolder::StripIfSingle, path)
}

fn take_entry<R: Read + Seek>(
    archive_path: &Path,
    archive: &mut ZipArchive<R>,
    index: usize,
    collector: &mut Collector<'_>,
) -> Result<(), IntakeError> {
    let corrupt = |detail: String| IntakeError::corrupt(archive_path, detail);
    let (name, mode, encrypted, declared) = {
        let meta = archive
            .by_index_data(index)
            .map_err(|e| corrupt(e.to_string()))?;
        let name = match meta.name() {
            Ok(name) => name.into_owned(),
            Err(_) => {
                return Err(IntakeError::NonUtf8Path {
                    entry: String::from_utf8_lossy(meta.name_raw()).into_owned(),
                });
            }
        };
        (name, meta.unix_mode(), meta.encrypted(), meta.size())
    };
    collector.note_entry(&name)?;
    let Some(path) = normalize(name.as_bytes(), Backslash::Separator)? else {
        return Ok(());
    };
    let file_type = mode.map_or(0, |m| m & S_IFMT);
    let is_dir = name.ends_with('/') || name.ends_with('\\') || file_type == S_IFDIR;
    if let Some(junk) = junk_prefix(&path, is_dir) {
        collector.skip(junk);
        return Ok(());
    }
    if is_dir {
        return Ok(());
    }
    let special = |kind| {
        Err(IntakeError::SpecialFile {
            entry: path.clone(),
            kind,
        })
    };
    match file_type {
        0 | S_IFREG => {}
        S_IFLNK => {
            let target = link_target(archive, index);
            return Err(IntakeError::SymlinkInArchive {
                entry: path,
                target,
            });
        }
        S_IFCHR => return special("character device"),
        S_IFBLK => return special("block device"),
        S_IFIFO => return special("named pipe (FIFO)"),
        S_IFSOCK => return special("socket"),
        other => {
            return Err(IntakeError::UnsupportedEntry {
                entry: path,
                kind: format!("Unix file type {other:o}"),
            });
        }
    }
    if encrypted {
        return Err(IntakeError::EncryptedEntry { entry: path });
    }
    collector.precheck(&path, Some(declared))?;
    let executable = mode.is_some_and(|m| m & 0o111 != 0);
    let reader = archive.by_index(index).map_err(|e| match e {
        ZipError::UnsupportedArchive(_) | ZipError::CompressionMethodNotSupported(_) => {
            IntakeError::UnsupportedEntry {
                entry: path.clone(),
                kind: e.to_string(),
            }
        }
        other => corrupt(format!("{path:?}: {other}")),
    })?;
    let contents = collector.read_limited(&path, reader, |e| corrupt(format!("{path:?}: {e}")))?;
    if contents.len() as u64 != declared {
        return Err(corrupt(format!(
            "{path:?}: holds {} bytes but declares {declared}",
            contents.len()
        )));
    }
    collector.add(path, contents, executable)
}

/// A symbolic link's target (its stored contents), for the error message.
fn link_target<R: Read + Seek>(archive: &mut ZipArchive<R>, index: usize) -> String {
    let mut target = Vec::new();
    if let Ok(file) = archive.by_index(index) {
        // Best effort: the link is refused whatever this reads.
        let _ = file.take(MAX_LINK_TARGET).read_to_end(&mut target);
    }
    String::from_utf8_lossy(&target).into_owned()
}

/// Finds a name listed twice in the central directory (the zip crate keeps
/// only one of them), reading the central directory headers one by one.
fn duplicate_name(path: &Path, dir_start: u64, limits: &Limits) -> Option<String> {
    let mut file = File::open(path).ok()?;
    file.seek(SeekFrom::Start(dir_start)).ok()?;
    let mut reader = BufReader::new(file);
    let mut seen = HashSet::new();
    for _ in 0..=limits.max_entries() {
        let mut fixed = [0u8; 46];
        reader.read_exact(&mut fixed).ok()?;
        if fixed[..4] != [0x50, 0x4b, 0x01, 0x02] {
            return None;
        }
        let len = |at: usize| usize::from(u16::from_le_bytes([fixed[at], fixed[at + 1]]));
        let mut name = vec![0u8; len(28)];
        reader.read_exact(&mut name).ok()?;
        let rest = (len(30) + len(32)) as u64;
        io::copy(&mut (&mut reader).take(rest), &mut io::sink()).ok()?;
        let shown = String::from_utf8_lossy(&name).into_owned();
        if !seen.insert(name) {
            return Some(shown);
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    use super::super::test_support::*;
    use super::super::{Limits, collect};
    use super::*;

    const APP: &[u8] = b"library(plumber)\nf <- function(x) x\n";

    fn take_bytes(bytes: &[u8], limits: &Limits) -> Result<AppSource, IntakeError> {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "app.zip", bytes);
        collect(&[path], limits)
    }

    fn take(bytes: &[u8]) -> Result<AppSource, IntakeError> {
        take_bytes(bytes, &Limits::default())
    }

    /// Sets the uncompressed size of a one-entry zip, in its local header
    /// (offset 22) and its central directory header (offset 24).
    fn lie_about_size(zip: &mut [u8], size: u32) {
        assert_eq!(zip[..4], [0x50, 0x4b, 0x03, 0x04]);
        zip[22..26].copy_from_slice(&size.to_le_bytes());
        let eocd = zip.len() - 22;
        assert_eq!(zip[eocd..eocd + 4], [0x50, 0x4b, 0x05, 0x06]);
        let cd = u32::from_le_bytes(zip[eocd + 16..eocd + 20].try_into().unwrap()) as usize;
        assert_eq!(zip[cd..cd + 4], [0x50, 0x4b, 0x01, 0x02]);
        zip[cd + 24..cd + 28].copy_from_slice(&size.to_le_bytes());
    }

    #[test]
    fn a_zip_is_taken_in_with_its_top_folder_stripped_and_junk_skipped() {
        let bytes = zip_with(|w| {
            w.add_directory("shop/", deflated()).unwrap();
            w.start_file("shop/app.R", deflated()).unwrap();
            w.write_all(APP).unwrap();
            w.start_file("shop/R/deep/x.R", deflated()).unwrap();
            w.write_all(b"x <- 1\n").unwrap();
            w.start_file("shop/run.sh", deflated().unix_permissions(0o755))
                .unwrap();
            w.write_all(b"#!/bin/sh\n").unwrap();
            w.start_file("shop/.DS_Store", deflated()).unwrap();
            w.write_all(b"\0\0").unwrap();
            w.start_file("__MACOSX/shop/._app.R", deflated()).unwrap();
            w.write_all(b"resource fork").unwrap();
            w.start_file("shop/.Rproj.user/x", deflated()).unwrap();
            w.write_all(b"{}").unwrap();
        });
        let src = take(&bytes).unwrap();
        let paths: Vec<&str> = src.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["R/deep/x.R", "app.R", "run.sh"]);
        assert_eq!(src.name_hint, "shop");
        assert_eq!(src.skipped, [".DS_Store", ".Rproj.user/", "__MACOSX/"]);
        assert!(src.file("run.sh").unwrap().executable);
        assert!(!src.file("app.R").unwrap().executable);
        assert_eq!(src.file("app.R").unwrap().contents, APP);
        assert_eq!(src.total_bytes, (APP.len() + 7 + 10) as u64);
    }

    #[test]
    fn stored_entries_and_the_archive_stem() {
        let bytes = zip_with(|w| {
            let stored = zip::write::SimpleFileOptions::default()
                .compression_method(zip::CompressionMethod::Stored);
            w.start_file("app.R", stored).unwrap();
            w.write_all(APP).unwrap();
            w.start_file("R/x.R", stored).unwrap();
            w.write_all(b"1").unwrap();
        });
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), "Sales Report.ZIP", &bytes);
        let src = collect(&[path], &Limits::default()).unwrap();
        assert_eq!(src.name_hint, "Sales Report");
        assert_eq!(src.files.len(), 2);
    }

    #[test]
    fn windows_separators_are_read_and_checked() {
        let src = take(&zip_bytes(&[("app\\R\\x.R", b"1"), ("app\\main.R", APP)])).unwrap();
        let paths: Vec<&str> = src.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["R/x.R", "main.R"]);
        assert!(matches!(
            take(&zip_bytes(&[("app.R", APP), ("..\\..\\evil.R", b"1")])),
            Err(IntakeError::ParentDirInPath { entry }) if entry == "..\\..\\evil.R"
        ));
        assert!(matches!(
            take(&zip_bytes(&[("C:\\evil.R", b"1")])),
            Err(IntakeError::WindowsDrivePath { .. })
        ));
    }

    #[test]
    fn parent_dir_and_absolute_entries_are_refused() {
        let err = take(&zip_bytes(&[("app.R", APP), ("../evil.R", b"1")])).unwrap_err();
        assert!(matches!(&err, IntakeError::ParentDirInPath { entry } if entry == "../evil.R"));
        assert!(err.to_string().contains("../evil.R"));
        assert!(matches!(
            take(&zip_bytes(&[("app.R", APP), ("a/../../evil.R", b"1")])),
            Err(IntakeError::ParentDirInPath { .. })
        ));
        assert!(matches!(
            take(&zip_bytes(&[("app.R", APP), ("/etc/passwd", b"1")])),
            Err(IntakeError::AbsolutePath { .. })
        ));
        assert!(matches!(
            take(&zip_bytes(&[("app.R", APP), ("a\0b.R", b"1")])),
            Err(IntakeError::NulInPath { .. })
        ));
    }

    #[test]
    fn symlinks_and_special_files_are_refused() {
        let bytes = zip_with(|w| {
            w.start_file("app.R", deflated()).unwrap();
            w.write_all(APP).unwrap();
            w.add_symlink("data", "/etc", deflated()).unwrap();
        });
        let err = take(&bytes).unwrap_err();
        assert!(
            matches!(&err, IntakeError::SymlinkInArchive { entry, target } if entry == "data" && target == "/etc"),
            "{err}"
        );
        for (bits, kind) in [
            (S_IFCHR, "character device"),
            (S_IFIFO, "named pipe (FIFO)"),
            (S_IFSOCK, "socket"),
        ] {
            let bytes = zip_with(|w| {
                w.start_file("app.R", deflated()).unwrap();
                w.write_all(APP).unwrap();
                let opts = deflated()
                    .system(zip::System::Unix)
                    .external_attributes((bits | 0o644) << 16);
                w.start_file("dev", opts).unwrap();
            });
            assert!(matches!(
                take(&bytes),
                Err(IntakeError::SpecialFile { entry, kind: k }) if entry == "dev" && k == kind
            ));
        }
    }

    #[test]
    fn duplicates_are_refused() {
        assert!(matches!(
            take(&zip_bytes(&[("app.R", APP), ("./app.R", b"2")])),
            Err(IntakeError::DuplicatePath { path }) if path == "app.R"
        ));
        assert!(matches!(
            take(&zip_bytes(&[("a/x.R", APP), ("a\\x.R", b"2")])),
            Err(IntakeError::DuplicatePath { path }) if path == "a/x.R"
        ));
        // The very same name twice (zip writers refuse; patch the bytes).
        let mut bytes = zip_bytes(&[("app.R", APP), ("bpp.R", b"other")]);
        let mut i = 0;
        while let Some(at) = bytes[i..].windows(5).position(|w| w == b"bpp.R") {
            bytes[i + at] = b'a';
            i += at + 5;
        }
        assert!(matches!(
            take(&bytes),
            Err(IntakeError::DuplicatePath { path }) if path == "app.R"
        ));
    }

    #[test]
    fn a_declared_size_that_lies_low_is_caught() {
        // 8 MiB of zeroes deflate to a few KiB; the zip claims 100 bytes.
        let mut bytes = zip_bytes(&[("app.R", &vec![0u8; 8 << 20])]);
        assert!(bytes.len() < 64 << 10);
        lie_about_size(&mut bytes, 100);
        let err = take(&bytes).unwrap_err();
        assert!(
            matches!(&err, IntakeError::CorruptArchive { detail, .. } if detail.contains("app.R")),
            "{err}"
        );
        // Even with no declared limit to lean on, our own limit stops it.
        let small = Limits {
            max_file_bytes: 1 << 20,
            ..Limits::default()
        };
        let mut bytes = zip_bytes(&[("app.R", &vec![0u8; 8 << 20])]);
        lie_about_size(&mut bytes, 1 << 20);
        assert!(matches!(
            take_bytes(&bytes, &small),
            Err(IntakeError::FileTooLarge { .. } | IntakeError::CorruptArchive { .. })
        ));
    }

    #[test]
    fn a_declared_size_that_lies_high_allocates_nothing() {
        // Claims almost 4 GiB: refused before reading by the per-file limit,
        // and with limits lifted, the bytes actually read decide.
        let mut bytes = zip_bytes(&[("app.R", APP)]);
        lie_about_size(&mut bytes, u32::MAX - 1);
        assert!(matches!(
            take(&bytes),
            Err(IntakeError::FileTooLarge { entry, .. }) if entry == "app.R"
        ));
        let huge = Limits {
            max_total_bytes: u64::MAX,
            max_file_bytes: u64::MAX,
            max_files: 10,
        };
        let err = take_bytes(&bytes, &huge).unwrap_err();
        assert!(
            matches!(&err, IntakeError::CorruptArchive { detail, .. } if detail.contains("declares")),
            "{err}"
        );
    }

    #[test]
    fn a_zip_bomb_stops_at_the_limits() {
        let limits = Limits {
            max_total_bytes: 3 << 20,
            max_file_bytes: 2 << 20,
            max_files: 100,
        };
        let big = vec![0u8; 16 << 20];
        let err = take_bytes(&zip_bytes(&[("app.R", APP), ("big.R", &big)]), &limits).unwrap_err();
        assert!(matches!(&err, IntakeError::FileTooLarge { entry, .. } if entry == "big.R"));
        let mid = vec![0u8; 2 << 20];
        let err = take_bytes(
            &zip_bytes(&[("a.R", &mid), ("b.R", &mid), ("c.R", &mid)]),
            &limits,
        )
        .unwrap_err();
        assert!(matches!(&err, IntakeError::TotalTooLarge { entry, .. } if entry == "b.R"));
    }

    #[test]
    fn truncated_and_corrupt_zips_are_refused() {
        let good = zip_bytes(&[("app.R", APP), ("data.csv", &b"a,b\n".repeat(1000))]);
        assert!(take(&good).is_ok());
        for cut in [good.len() / 2, good.len() - 10, 10, 0] {
            let err = take(&good[..cut]).unwrap_err();
            assert!(
                matches!(&err, IntakeError::CorruptArchive { .. }),
                "cut at {cut}: {err}"
            );
        }
        // Flipped compressed bytes: a deflate error or a bad CRC.
        let mut bad = zip_bytes(&[("app.R", &b"f <- function() 1\n".repeat(100))]);
        for b in &mut bad[40..60] {
            *b ^= 0x55;
        }
        assert!(matches!(
            take(&bad),
            Err(IntakeError::CorruptArchive { .. })
        ));
    }

    #[test]
    fn a_zip_without_r_code_is_refused() {
        assert!(matches!(
            take(&zip_bytes(&[
                ("data.csv", b"a\n"),
                ("__MACOSX/._x.R", b"1")
            ])),
            Err(IntakeError::NoRFiles { .. })
        ));
    }

    #[test]
    fn too_many_entries_are_refused() {
        let limits = Limits {
            max_files: 2,
            ..Limits::default()
        };
        let names: Vec<String> = (0..9).map(|i| format!("d{i}/")).collect();
        let bytes = zip_with(|w| {
            for n in &names {
                w.add_directory(n.as_str(), deflated()).unwrap();
            }
        });
        assert!(matches!(
            take_bytes(&bytes, &limits),
            Err(IntakeError::TooManyEntries { limit: 8, .. })
        ));
    }
}
