//! Test helpers: archives built in memory with any entry names and types
//! (including the malicious ones real tools refuse to write), and a snapshot
//! of a folder to prove nothing was written.

use std::io::{Cursor, Write};
use std::path::{Path, PathBuf};

use flate2::Compression;
use flate2::write::GzEncoder;
use tar::EntryType;
use zip::write::SimpleFileOptions;

/// One tar entry, written verbatim (no path checks).
pub struct TarEntry {
    pub name: Vec<u8>,
    pub kind: EntryType,
    pub data: Vec<u8>,
    pub link: Vec<u8>,
    pub mode: u32,
}

pub fn raw_file(name: &[u8], data: &[u8]) -> TarEntry {
    TarEntry {
        name: name.to_vec(),
        kind: EntryType::Regular,
        data: data.to_vec(),
        link: vec![],
        mode: 0o644,
    }
}

pub fn raw_entry(name: &[u8], kind: EntryType) -> TarEntry {
    TarEntry {
        name: name.to_vec(),
        kind,
        data: vec![],
        link: vec![],
        mode: 0o755,
    }
}

pub fn raw_symlink(name: &[u8], target: &[u8]) -> TarEntry {
    TarEntry {
        link: target.to_vec(),
        ..raw_entry(name, EntryType::Symlink)
    }
}

pub fn raw_hardlink(name: &[u8], target: &[u8]) -> TarEntry {
    TarEntry {
        link: target.to_vec(),
        ..raw_entry(name, EntryType::Link)
    }
}

fn header(name: &[u8], kind: EntryType, size: u64, mode: u32, link: &[u8]) -> tar::Header {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_mtime(0);
    let old = h.as_old_mut();
    let n = name.len().min(old.name.len());
    old.name[..n].copy_from_slice(&name[..n]);
    let l = link.len().min(old.linkname.len());
    old.linkname[..l].copy_from_slice(&link[..l]);
    h.set_cksum();
    h
}

/// A plain tar; names over 100 bytes get a GNU long-name entry first.
pub fn tar_bytes(entries: &[TarEntry]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for e in entries {
        if e.name.len() > 100 {
            let mut long = e.name.clone();
            long.push(0);
            let h = header(
                b"././@LongLink",
                EntryType::GNULongName,
                long.len() as u64,
                0o644,
                b"",
            );
            b.append(&h, long.as_slice()).unwrap();
        }
        let h = header(&e.name, e.kind, e.data.len() as u64, e.mode, &e.link);
        b.append(&h, e.data.as_slice()).unwrap();
    }
    b.into_inner().unwrap()
}

pub fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut gz = GzEncoder::new(Vec::new(), Compression::default());
    gz.write_all(bytes).unwrap();
    gz.finish().unwrap()
}

pub fn tar_gz(entries: &[TarEntry]) -> Vec<u8> {
    gzip(&tar_bytes(entries))
}

/// A deflated zip of regular files (mode 0644).
pub fn zip_bytes(files: &[(&str, &[u8])]) -> Vec<u8> {
    zip_with(|w| {
        for (name, data) in files {
            w.start_file(*name, deflated()).unwrap();
            w.write_all(data).unwrap();
        }
    })
}

pub fn deflated() -> SimpleFileOptions {
    SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated)
}

pub fn zip_with(build: impl FnOnce(&mut zip::ZipWriter<Cursor<Vec<u8>>>)) -> Vec<u8> {
    let mut w = zip::ZipWriter::new(Cursor::new(Vec::new()));
    build(&mut w);
    w.finish().unwrap().into_inner()
}

pub fn write(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).unwrap();
    }
    std::fs::write(&path, bytes).unwrap();
    path
}

/// Every path under `dir` (not following links) with its size, sorted.
pub fn snapshot(dir: &Path) -> Vec<(PathBuf, u64)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_owned()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            let meta = std::fs::symlink_metadata(e.path()).unwrap();
            out.push((e.path(), meta.len()));
            if meta.is_dir() {
                stack.push(e.path());
            }
        }
    }
    out.sort();
    out
}
