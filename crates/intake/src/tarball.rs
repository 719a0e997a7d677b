//! Intake of `.tar.gz`/`.tgz` and plain `.tar` archives, streamed: nothing is
//! extracted, every entry is checked as it comes.
//!
//! The tar crate is driven in raw mode, and GNU long names and PAX headers
//! are handled here, so that their contents are read only up to
//! [`MAX_META_BYTES`] (the crate's own handling would read a long-name entry
//! of any declared size into memory). Only regular files and folders are
//! taken; links, devices, FIFOs, sparse files and unknown entry types are
//! refused. The whole decompressed stream is counted and capped at
//! [`Limits::max_expanded_bytes`], so a gzip bomb hidden in skipped junk
//! cannot keep us decompressing. An archive must end with tar's end marker
//! and, when gzipped, a valid gzip trailer: anything cut short is corrupt.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;
use std::rc::Rc;

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use super::collector::{Collector, TopFolder};
use super::names::{Backslash, junk_prefix, normalize};
use super::{AppSource, ArchiveKind, IntakeError, Limits, archive_stem};

/// Largest GNU long name or PAX header accepted, in bytes.
const MAX_META_BYTES: u64 = 64 * 1024;

pub(crate) fn collect(
    path: &Path,
    kind: ArchiveKind,
    limits: &Limits,
) -> Result<AppSource, IntakeError> {
    let file = File::open(path).map_err(|e| IntakeError::io(path, e))?;
    let state = Rc::new(StreamState::new(limits.max_expanded_bytes()));
    let stream: Box<dyn Read> = match kind {
        ArchiveKind::TarGz => Box::new(MultiGzDecoder::new(BufReader::new(file))),
        _ => Box::new(BufReader::new(file)),
    };
    let counted = Counted {
        inner: stream,
        state: Rc::clone(&state),
    };
    let reader = TarReader {
        archive: path,
        state: &state,
    };
    let mut collector = Collector::new(limits);
    reader.read(counted, &mut collector)?;
    collector.finish(archive_stem(path), TopFolder::StripIfSingle, path)
}

/// What the counting reader has seen of the decompressed stream.
struct StreamState {
    read: Cell<u64>,
    cap: u64,
    over: Cell<bool>,
    eof: Cell<bool>,
}

impl StreamState {
    fn new(cap: u64) -> Self {
        Self {
            read: Cell::new(0),
            cap,
            over: Cell::new(false),
            eof: Cell::new(false),
        }
    }
}

/// Counts decompressed bytes, fails past the cap, and notes the end of data.
struct Counted<R> {
    inner: R,
    state: Rc<StreamState>,
}

impl<R: Read> Read for Counted<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.state.over.get() {
            return Err(io::Error::other("archive expands past the limit"));
        }
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.state.eof.set(true);
        }
        let read = self.state.read.get().saturating_add(n as u64);
        self.state.read.set(read);
        if read > self.state.cap {
            self.state.over.set(true);
            return Err(io::Error::other("archive expands past the limit"));
        }
        Ok(n)
    }
}

struct TarReader<'a> {
    archive: &'a Path,
    state: &'a StreamState,
}

impl TarReader<'_> {
    /// Turns an I/O error of the stream into the right refusal.
    fn stream_error(&self, e: &io::Error) -> IntakeError {
        if self.state.over.get() {
            IntakeError::ArchiveTooLarge {
                archive: self.archive.to_owned(),
                limit: self.state.cap,
            }
        } else {
            IntakeError::corrupt(self.archive, e.to_string())
        }
    }

    fn read<R: Read>(
        &self,
        stream: Counted<R>,
        collector: &mut Collector<'_>,
    ) -> Result<(), IntakeError> {
        let mut archive = tar::Archive::new(stream);
        let entries = archive
            .entries()
            .map_err(|e| self.stream_error(&e))?
            .raw(true);
        let mut long_name: Option<Vec<u8>> = None;
        let mut pax: Option<Vec<u8>> = None;
        for entry in entries {
            let mut entry = entry.map_err(|e| self.stream_error(&e))?;
            let kind = entry.header().entry_type();
            let header_name = entry.path_bytes().into_owned();
            collector.note_entry(&String::from_utf8_lossy(&header_name))?;
            match kind {
                EntryType::GNULongName => {
                    let mut name = self.read_meta(&mut entry, &header_name)?;
                    while name.last() == Some(&0) {
                        name.pop();
                    }
                    long_name = Some(name);
                    continue;
                }
                EntryType::XHeader => {
                    pax = Some(self.read_meta(&mut entry, &header_name)?);
                    continue;
                }
                // A link's long target, or global PAX settings (git archive
                // writes the commit id there): nothing we use. The tar crate
                // skips their data, counted by the stream cap.
                EntryType::GNULongLink | EntryType::XGlobalHeader => continue,
                _ => {}
            }
            let mut raw_name = header_name;
            if let Some(ext) = pax.take() {
                for field in tar::PaxExtensions::new(&ext) {
                    let field = field.map_err(|e| {
                        IntakeError::corrupt(self.archive, format!("bad PAX header: {e}"))
                    })?;
                    match field.key_bytes() {
                        b"path" => raw_name = field.value_bytes().to_vec(),
                        b"size" => {
                            let declared = field.value().ok().and_then(|v| v.parse::<u64>().ok());
                            if declared != Some(entry.size()) {
                                return Err(IntakeError::corrupt(
                                    self.archive,
                                    format!(
                                        "{:?}: the PAX size differs from the header's",
                                        String::from_utf8_lossy(&raw_name)
                                    ),
                                ));
                            }
                        }
                        _ => {}
                    }
                }
            }
            if let Some(name) = long_name.take() {
                raw_name = name;
            }
            self.entry(&mut entry, kind, &raw_name, collector)?;
        }
        if long_name.is_some() || pax.is_some() {
            return Err(IntakeError::corrupt(
                self.archive,
                "a long-name or PAX header is not followed by its entry",
            ));
        }
        if self.state.eof.get() {
            return Err(IntakeError::corrupt(
                self.archive,
                "it ends without tar's end-of-archive marker (truncated?)",
            ));
        }
        // Read what follows the end marker (record padding, the gzip
        // trailer): a gzip stream cut short or with a bad checksum fails here.
        let mut rest = archive.into_inner();
        io::copy(&mut rest, &mut io::sink()).map_err(|e| self.stream_error(&e))?;
        Ok(())
    }

    /// Reads a metadata entry's contents, bounded by [`MAX_META_BYTES`].
    fn read_meta<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        header_name: &[u8],
    ) -> Result<Vec<u8>, IntakeError> {
        let shown = String::from_utf8_lossy(header_name);
        if entry.size() > MAX_META_BYTES {
            return Err(IntakeError::corrupt(
                self.archive,
                format!(
                    "{shown:?}: a long-name or PAX header of {} bytes",
                    entry.size()
                ),
            ));
        }
        let mut data = Vec::new();
        entry
            .take(MAX_META_BYTES)
            .read_to_end(&mut data)
            .map_err(|e| self.stream_error(&e))?;
        if data.len() as u64 != entry.size() {
            return Err(IntakeError::corrupt(
                self.archive,
                format!("{shown:?}: the entry is cut short"),
            ));
        }
        Ok(data)
    }

    fn entry<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        kind: EntryType,
        raw_name: &[u8],
        collector: &mut Collector<'_>,
    ) -> Result<(), IntakeError> {
        let Some(path) = normalize(raw_name, Backslash::Refuse)? else {
            // The archive's root folder itself (`./`).
            return Ok(());
        };
        let is_dir = kind == EntryType::Directory
            || (kind == EntryType::Regular && raw_name.ends_with(b"/") && entry.size() == 0);
        if let Some(junk) = junk_prefix(&path, is_dir) {
            collector.skip(junk);
            return Ok(());
        }
        let target = || {
            entry
                .link_name_bytes()
                .map(|t| String::from_utf8_lossy(&t).into_owned())
                .unwrap_or_default()
        };
        match kind {
            _ if is_dir => Ok(()),
            EntryType::Regular | EntryType::Continuous => self.file(entry, path, collector),
            EntryType::Symlink => Err(IntakeError::SymlinkInArchive {
                entry: path,
                target: target(),
            }),
            EntryType::Link => Err(IntakeError::HardlinkInArchive {
                entry: path,
                target: target(),
            }),
            EntryType::Char => Err(IntakeError::SpecialFile {
                entry: path,
                kind: "character device",
            }),
            EntryType::Block => Err(IntakeError::SpecialFile {
                entry: path,
                kind: "block device",
            }),
            EntryType::Fifo => Err(IntakeError::SpecialFile {
                entry: path,
                kind: "named pipe (FIFO)",
            }),
            EntryType::GNUSparse => Err(IntakeError::UnsupportedEntry {
                entry: path,
                kind: "GNU sparse file".into(),
            }),
            other => Err(IntakeError::UnsupportedEntry {
                entry: path,
                kind: format!("tar entry type {:?}", char::from(other.as_byte())),
            }),
        }
    }

    fn file<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        path: String,
        collector: &mut Collector<'_>,
    ) -> Result<(), IntakeError> {
        collector.precheck(&path, Some(entry.size()))?;
        let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
        let declared = entry.size();
        let contents = collector.read_limited(&path, &mut *entry, |e| self.stream_error(&e))?;
        if contents.len() as u64 != declared {
            return Err(IntakeError::corrupt(
                self.archive,
                format!(
                    "{path:?}: {} bytes of the {declared} declared (truncated?)",
                    contents.len()
                ),
            ));
        }
        collector.add(path, contents, executable)
    }
}

#[cfg(test)]
mod tests {
    use tar::EntryType;

    use super::super::test_support::*;
    use super::super::{Limits, collect};
    use super::*;

    const APP: &[u8] = b"library(jsonlite)\nf <- function(x) toJSON(x)\n";

    fn take_bytes(name: &str, bytes: &[u8], limits: &Limits) -> Result<AppSource, IntakeError> {
        let dir = tempfile::tempdir().unwrap();
        let path = write(dir.path(), name, bytes);
        collect(&[path], limits)
    }

    fn take(entries: &[TarEntry]) -> Result<AppSource, IntakeError> {
        take_bytes("app.tar.gz", &tar_gz(entries), &Limits::default())
    }

    #[test]
    fn a_tar_gz_is_taken_in_with_its_top_folder_stripped() {
        let mut exe = raw_file(b"myapp/bin/run.sh", b"#!/bin/sh\n");
        exe.mode = 0o755;
        let src = take(&[
            raw_entry(b"myapp/", EntryType::Directory),
            raw_file(b"myapp/app.R", APP),
            raw_entry(b"myapp/R/", EntryType::Directory),
            raw_file(b"myapp/R/nested/deep.R", b"d <- 1\n"),
            exe,
            raw_file(b"myapp/.git/HEAD", b"ref: x\n"),
            raw_file(b"myapp/.Rhistory", b"q()\n"),
        ])
        .unwrap();
        let paths: Vec<&str> = src.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["R/nested/deep.R", "app.R", "bin/run.sh"]);
        assert_eq!(src.name_hint, "myapp");
        assert_eq!(src.skipped, [".Rhistory", ".git/"]);
        assert!(src.file("bin/run.sh").unwrap().executable);
        assert_eq!(src.file("app.R").unwrap().contents, APP);
    }

    #[test]
    fn without_a_single_top_folder_nothing_is_stripped() {
        let src = take(&[
            raw_file(b"./app.R", APP),
            raw_file(b"R/x.R", b"1\n"),
            raw_file(b"__MACOSX/._app.R", b"junk"),
        ])
        .unwrap();
        let paths: Vec<&str> = src.files.iter().map(|f| f.path.as_str()).collect();
        assert_eq!(paths, ["R/x.R", "app.R"]);
        assert_eq!(src.name_hint, "app");
        assert_eq!(src.skipped, ["__MACOSX/"]);
    }

    #[test]
    fn plain_tar_and_long_names_work() {
        let long = format!("{}/app.R", "d".repeat(150));
        let bytes = tar_bytes(&[raw_file(long.as_bytes(), APP)]);
        let src = take_bytes("x.tar", &bytes, &Limits::default()).unwrap();
        assert_eq!(src.files[0].path, "app.R");
        assert_eq!(src.name_hint, "d".repeat(150));
    }

    #[test]
    fn parent_dir_entries_are_refused() {
        let err = take(&[raw_file(b"app.R", APP), raw_file(b"../x.R", b"pwned")]).unwrap_err();
        assert!(matches!(&err, IntakeError::ParentDirInPath { entry } if entry == "../x.R"));
        assert!(err.to_string().contains("../x.R"));
        assert!(matches!(
            take(&[raw_file(b"a/../../x.R", b"1")]),
            Err(IntakeError::ParentDirInPath { .. })
        ));
        // Also when the name comes from a GNU long name.
        let long = format!("{}/../../../x.R", "d".repeat(120));
        assert!(matches!(
            take(&[raw_file(long.as_bytes(), b"1")]),
            Err(IntakeError::ParentDirInPath { .. })
        ));
    }

    #[test]
    fn absolute_and_windows_entries_are_refused() {
        assert!(matches!(
            take(&[raw_file(b"app.R", APP), raw_file(b"/etc/passwd", b"root")]),
            Err(IntakeError::AbsolutePath { entry }) if entry == "/etc/passwd"
        ));
        assert!(matches!(
            take(&[raw_file(b"C:/x.R", b"1")]),
            Err(IntakeError::WindowsDrivePath { .. })
        ));
        assert!(matches!(
            take(&[raw_file(b"..\\..\\x.R", b"1")]),
            Err(IntakeError::BackslashInPath { .. })
        ));
    }

    #[test]
    fn links_are_refused() {
        let err = take(&[raw_file(b"app.R", APP), raw_symlink(b"data", b"/etc")]).unwrap_err();
        assert!(
            matches!(&err, IntakeError::SymlinkInArchive { entry, target } if entry == "data" && target == "/etc")
        );
        assert!(err.to_string().contains("data"));
        // Even one pointing inside the archive.
        assert!(matches!(
            take(&[raw_file(b"app.R", APP), raw_symlink(b"b.R", b"app.R")]),
            Err(IntakeError::SymlinkInArchive { .. })
        ));
        let err = take(&[
            raw_file(b"app.R", APP),
            raw_hardlink(b"h.R", b"/etc/shadow"),
        ])
        .unwrap_err();
        assert!(
            matches!(&err, IntakeError::HardlinkInArchive { entry, target } if entry == "h.R" && target == "/etc/shadow")
        );
    }

    #[test]
    fn devices_fifos_and_sparse_files_are_refused() {
        for (kind, what) in [
            (EntryType::Char, "character device"),
            (EntryType::Block, "block device"),
            (EntryType::Fifo, "named pipe (FIFO)"),
        ] {
            let err = take(&[raw_file(b"app.R", APP), raw_entry(b"dev", kind)]).unwrap_err();
            assert!(
                matches!(&err, IntakeError::SpecialFile { entry, kind } if entry == "dev" && *kind == what),
                "{err}"
            );
        }
        assert!(matches!(
            take(&[
                raw_file(b"app.R", APP),
                raw_entry(b"odd", EntryType::new(b'V'))
            ]),
            Err(IntakeError::UnsupportedEntry { .. })
        ));
    }

    #[test]
    fn duplicates_after_normalization_are_refused() {
        assert!(matches!(
            take(&[raw_file(b"app.R", APP), raw_file(b"./app.R", b"other")]),
            Err(IntakeError::DuplicatePath { path }) if path == "app.R"
        ));
        assert!(matches!(
            take(&[raw_file(b"R/a.R", b"1"), raw_file(b"R//./a.R", b"2")]),
            Err(IntakeError::DuplicatePath { path }) if path == "R/a.R"
        ));
        assert!(matches!(
            take(&[raw_file(b"R", b"1"), raw_file(b"R/a.R", b"2")]),
            Err(IntakeError::FileFolderConflict { path }) if path == "R"
        ));
    }

    #[test]
    fn a_gzip_bomb_of_zeroes_stops_at_the_limit() {
        let limits = Limits {
            max_total_bytes: 4 << 20,
            max_file_bytes: 1 << 20,
            max_files: 100,
        };
        let zeroes = vec![0u8; 64 << 20];
        let bomb = tar_gz(&[raw_file(b"app.R", APP), raw_file(b"data.bin", &zeroes)]);
        assert!(bomb.len() < 200 << 10, "{} bytes", bomb.len());
        let err = take_bytes("bomb.tgz", &bomb, &limits).unwrap_err();
        assert!(
            matches!(&err, IntakeError::FileTooLarge { entry, limit } if entry == "data.bin" && *limit == 1 << 20),
            "{err}"
        );

        // Files under the per-file limit that add up past the total.
        let chunk = vec![0u8; 1 << 20];
        let many: Vec<TarEntry> = (0..8)
            .map(|i| raw_file(format!("part{i}.R").as_bytes(), &chunk))
            .collect();
        let err = take_bytes("many.tgz", &tar_gz(&many), &limits).unwrap_err();
        assert!(
            matches!(&err, IntakeError::TotalTooLarge { entry, .. } if entry == "part4.R"),
            "{err}"
        );

        // Zeroes hidden in skipped junk still count against the stream cap.
        let junk: Vec<TarEntry> = (0..40)
            .map(|i| raw_file(format!(".git/objects/{i}").as_bytes(), &chunk))
            .collect();
        let mut entries = vec![raw_file(b"app.R", APP)];
        entries.extend(junk);
        let err = take_bytes("junk.tgz", &tar_gz(&entries), &limits).unwrap_err();
        assert!(
            matches!(&err, IntakeError::ArchiveTooLarge { limit, .. } if *limit == 16 << 20),
            "{err}"
        );
    }

    #[test]
    fn too_many_files_are_refused() {
        let limits = Limits {
            max_files: 3,
            ..Limits::default()
        };
        let entries: Vec<TarEntry> = (0..4)
            .map(|i| raw_file(format!("f{i}.R").as_bytes(), b"1"))
            .collect();
        assert!(matches!(
            take_bytes("x.tgz", &tar_gz(&entries), &limits),
            Err(IntakeError::TooManyFiles { entry, limit: 3 }) if entry == "f3.R"
        ));
        let dirs: Vec<TarEntry> = (0..13)
            .map(|i| raw_entry(format!("d{i}/").as_bytes(), EntryType::Directory))
            .collect();
        assert!(matches!(
            take_bytes("x.tgz", &tar_gz(&dirs), &limits),
            Err(IntakeError::TooManyEntries { limit: 12, .. })
        ));
    }

    #[test]
    fn a_huge_long_name_is_not_read_into_memory() {
        // A GNU long-name entry declaring 8 GiB, with little behind it.
        let mut h = tar::Header::new_gnu();
        h.set_entry_type(EntryType::GNULongName);
        h.as_old_mut().name[..13].copy_from_slice(b"././@LongLink");
        h.set_size(8 << 30);
        h.set_cksum();
        let mut bytes = h.as_bytes().to_vec();
        bytes.extend(vec![b'a'; 4096]);
        let err = take_bytes("x.tgz", &gzip(&bytes), &Limits::default()).unwrap_err();
        assert!(matches!(err, IntakeError::CorruptArchive { .. }), "{err}");
    }

    #[test]
    fn truncated_and_corrupt_archives_are_refused() {
        let good = tar_gz(&[
            raw_file(b"app.R", APP),
            raw_file(b"data.csv", &b"a,b\n".repeat(5000)),
        ]);
        assert!(take_bytes("ok.tgz", &good, &Limits::default()).is_ok());
        for cut in [good.len() / 2, good.len() - 4, 30] {
            let err = take_bytes("cut.tgz", &good[..cut], &Limits::default()).unwrap_err();
            assert!(
                matches!(&err, IntakeError::CorruptArchive { archive, .. } if archive.ends_with("cut.tgz")),
                "cut at {cut}: {err}"
            );
        }
        // A plain tar cut in the middle of a file, or right after one (no
        // end-of-archive marker).
        let plain = tar_bytes(&[raw_file(b"app.R", APP), raw_file(b"b.R", &[b'#'; 2000])]);
        for cut in [1024 + 512 + 700, 1024 + 512 + 2048] {
            let err = take_bytes("cut.tar", &plain[..cut], &Limits::default()).unwrap_err();
            assert!(matches!(err, IntakeError::CorruptArchive { .. }), "{err}");
        }
        // A bad header checksum.
        let mut bad = tar_bytes(&[raw_file(b"app.R", APP)]);
        bad[0] = b'x';
        assert!(matches!(
            take_bytes("bad.tar", &bad, &Limits::default()),
            Err(IntakeError::CorruptArchive { .. })
        ));
        // Not gzip at all.
        assert!(matches!(
            take_bytes("not.tar.gz", b"PK\x03\x04 not a gzip", &Limits::default()),
            Err(IntakeError::CorruptArchive { .. })
        ));
    }

    #[test]
    fn an_archive_without_r_code_is_refused() {
        assert!(matches!(
            take(&[
                raw_file(b"top/data.csv", b"a\n"),
                raw_file(b"top/.git/x.R", b"1")
            ]),
            Err(IntakeError::NoRFiles { .. })
        ));
    }

    #[test]
    fn pax_paths_are_checked_too() {
        // A PAX header renaming a harmless entry to an absolute path.
        let record = {
            let body = "path=/etc/cron.d/x\n";
            let mut len = body.len() + 3;
            if format!("{len} {body}").len() != len {
                len += 1;
            }
            format!("{len} {body}")
        };
        let mut pax = raw_entry(b"PaxHeaders/x", EntryType::XHeader);
        pax.data = record.into_bytes();
        assert!(matches!(
            take(&[raw_file(b"app.R", APP), pax, raw_file(b"harmless.R", b"1")]),
            Err(IntakeError::AbsolutePath { entry }) if entry == "/etc/cron.d/x"
        ));
    }
}
