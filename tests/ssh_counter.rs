//! [`SshCounter`]: an `ssh` first on `PATH` that notes each start (its
//! arguments, one line per start) and then runs the real one, so a test or
//! the bench sees every ssh process the code under test started, however
//! short-lived.

use std::os::unix::fs::PermissionsExt;

pub struct SshCounter {
    dir: tempfile::TempDir,
}

impl SshCounter {
    /// Writes the counting `ssh` in a new temporary folder.
    pub fn new() -> Self {
        let real = std::env::var_os("PATH")
            .iter()
            .flat_map(std::env::split_paths)
            .map(|dir| dir.join("ssh"))
            .find(|path| path.is_file())
            .expect("an ssh on PATH");
        let dir = tempfile::tempdir().expect("a temporary folder");
        let script = dir.path().join("ssh");
        let log = dir.path().join("starts");
        std::fs::write(
            &script,
            format!(
                "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{}' \"$@\"\n",
                log.display(),
                real.display()
            ),
        )
        .expect("writing the counting ssh");
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
            .expect("making the counting ssh executable");
        Self { dir }
    }

    /// PATH with the counting `ssh` first.
    pub fn path(&self) -> String {
        format!(
            "{}:{}",
            self.dir.path().display(),
            std::env::var("PATH").unwrap_or_default()
        )
    }

    /// The arguments of every start so far, in order.
    pub fn started(&self) -> Vec<String> {
        std::fs::read_to_string(self.dir.path().join("starts"))
            .map(|t| t.lines().map(str::to_owned).collect())
            .unwrap_or_default()
    }

    /// How many ssh processes were started so far.
    pub fn starts(&self) -> usize {
        self.started().len()
    }
}

impl Default for SshCounter {
    fn default() -> Self {
        Self::new()
    }
}
