//! Small state kept in `.standin/`: content hashes that tell when something
//! must be made again, and stamps that remember which checks passed for
//! which inputs.

use std::fs;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use sha2::{Digest, Sha256};

/// Hex SHA-256 of the given parts, each length-prefixed so that different
/// splits never hash the same.
pub fn hash_parts<I, P>(parts: I) -> String
where
    I: IntoIterator<Item = P>,
    P: AsRef<[u8]>,
{
    let mut h = Sha256::new();
    for part in parts {
        let part = part.as_ref();
        h.update((part.len() as u64).to_le_bytes());
        h.update(part);
    }
    hex::encode(h.finalize())
}

/// Every file under `dir` (recursively, sorted), as paths relative to `dir`,
/// leaving out those `skip` rejects.
pub fn files_under(dir: &Path, skip: &dyn Fn(&Path) -> bool) -> Result<Vec<PathBuf>> {
    fn walk(
        root: &Path,
        dir: &Path,
        skip: &dyn Fn(&Path) -> bool,
        out: &mut Vec<PathBuf>,
    ) -> Result<()> {
        for entry in fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
            let path = entry?.path();
            let rel = path.strip_prefix(root)?.to_path_buf();
            if skip(&rel) {
                continue;
            }
            if path.is_dir() {
                walk(root, &path, skip, out)?;
            } else {
                out.push(rel);
            }
        }
        Ok(())
    }
    let mut out = Vec::new();
    walk(dir, dir, skip, &mut out)?;
    out.sort();
    Ok(out)
}

/// Hash of the names and contents of the files under `dir` that `skip`
/// keeps, plus `extra`.
pub fn hash_tree(dir: &Path, skip: &dyn Fn(&Path) -> bool, extra: &[&str]) -> Result<String> {
    let mut parts: Vec<Vec<u8>> = extra.iter().map(|e| e.as_bytes().to_vec()).collect();
    for rel in files_under(dir, skip)? {
        parts.push(rel.to_string_lossy().as_bytes().to_vec());
        let path = dir.join(&rel);
        parts.push(fs::read(&path).with_context(|| format!("cannot read {}", path.display()))?);
    }
    Ok(hash_parts(parts))
}

/// Stamps: `.standin/stamps/<name>` holds the key of the inputs a check last
/// passed with.
pub struct Stamps {
    dir: PathBuf,
}

impl Stamps {
    pub fn new(dir: PathBuf) -> Self {
        Self { dir }
    }

    pub fn matches(&self, name: &str, key: &str) -> bool {
        fs::read_to_string(self.dir.join(name)).is_ok_and(|k| k.trim() == key)
    }

    pub fn set(&self, name: &str, key: &str) -> Result<()> {
        fs::create_dir_all(&self.dir)?;
        fs::write(self.dir.join(name), format!("{key}\n"))
            .with_context(|| format!("cannot write stamp {name}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hashes_depend_on_splits_and_contents() {
        assert_ne!(hash_parts(["ab", "c"]), hash_parts(["a", "bc"]));
        assert_eq!(hash_parts(["x"]), hash_parts(["x"]));
        assert_eq!(hash_parts(["x"]).len(), 64);
    }

    #[test]
    fn tree_hash_and_stamps() {
        let dir = std::env::temp_dir().join(format!("xtask-state-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(dir.join("sub")).unwrap();
        fs::write(dir.join("a"), "1").unwrap();
        fs::write(dir.join("sub/b"), "2").unwrap();
        fs::write(dir.join("README.md"), "docs").unwrap();
        let skip_md = |p: &Path| p.extension().is_some_and(|e| e == "md");
        assert_eq!(
            files_under(&dir, &skip_md).unwrap(),
            vec![PathBuf::from("a"), PathBuf::from("sub/b")]
        );
        let h1 = hash_tree(&dir, &skip_md, &["x"]).unwrap();
        fs::write(dir.join("README.md"), "other docs").unwrap();
        assert_eq!(h1, hash_tree(&dir, &skip_md, &["x"]).unwrap());
        assert_ne!(h1, hash_tree(&dir, &skip_md, &["y"]).unwrap());
        fs::write(dir.join("sub/b"), "3").unwrap();
        assert_ne!(h1, hash_tree(&dir, &skip_md, &["x"]).unwrap());

        let stamps = Stamps::new(dir.join("stamps"));
        assert!(!stamps.matches("s", "k"));
        stamps.set("s", "k").unwrap();
        assert!(stamps.matches("s", "k"));
        assert!(!stamps.matches("s", "other"));
        fs::remove_dir_all(&dir).unwrap();
    }
}
