//! The resume state of an import: a small JSON file next to its input, `FILE.import-progress`,
//! rewritten (temp file, then rename) after each batch the endpoint acknowledged. It holds
//! the input's fingerprint, so a run never resumes over a file that has changed.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::read::Fingerprint;

/// How far an import has gone, and what it has counted so far.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Progress {
    pub input: Fingerprint,
    /// The input's rows before this one have all been acknowledged (or failed).
    pub rows_done: usize,
    pub imported: u64,
    pub skipped: u64,
    /// Each reason the endpoint gave for skipping, how often, and the first row it gave it for.
    #[serde(default)]
    pub skipped_reasons: BTreeMap<String, Skips>,
    /// The rows that could not be read, with why.
    #[serde(default)]
    pub failures: Vec<Failure>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Skips {
    pub count: u64,
    pub first: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Failure {
    pub place: String,
    pub reason: String,
}

impl Progress {
    pub fn start(input: Fingerprint) -> Self {
        Progress {
            input,
            rows_done: 0,
            imported: 0,
            skipped: 0,
            skipped_reasons: BTreeMap::new(),
            failures: Vec::new(),
        }
    }

    pub fn failed(&self) -> u64 {
        self.failures.len() as u64
    }

    pub fn skip(&mut self, place: &str, reason: &str) {
        self.skipped += 1;
        self.skipped_reasons
            .entry(reason.to_owned())
            .or_insert_with(|| Skips {
                count: 0,
                first: place.to_owned(),
            })
            .count += 1;
    }

    /// The progress recorded at `path` for this input; `None` when there is none. A record
    /// of another input, or one that cannot be read, is an error: the caller decides
    /// (`--restart`) to start over.
    pub fn load(path: &Path, input: &Fingerprint) -> Result<Option<Progress>, String> {
        let text = match std::fs::read(path) {
            Ok(text) => text,
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(err) => return Err(format!("cannot read {}: {err}", path.display())),
        };
        let progress: Progress = serde_json::from_slice(&text).map_err(|err| {
            format!(
                "{} is not an import's progress ({err}); pass --restart to import from the \
                 first row",
                path.display()
            )
        })?;
        if progress.input != *input {
            return Err(format!(
                "the input has changed since the import that {} records (it had {} bytes, \
                 SHA-256 {}…; it now has {} bytes, {}…): put the original back to resume, or \
                 pass --restart to import the new file from its first row (keys already \
                 imported are then skipped, never overwritten)",
                path.display(),
                progress.input.size,
                &progress.input.sha256[..progress.input.sha256.len().min(12)],
                input.size,
                &input.sha256[..12],
            ));
        }
        Ok(Some(progress))
    }

    /// Writes the progress to `path` atomically: a temp file beside it, flushed, renamed.
    pub fn save(&self, path: &Path) -> std::io::Result<()> {
        let temp = with_suffix(path, ".tmp");
        let mut file = std::fs::File::create(&temp)?;
        file.write_all(&serde_json::to_vec_pretty(self).expect("progress serialises"))?;
        file.sync_all()?;
        std::fs::rename(&temp, path)
    }

    /// Removes the progress at `path`, if any.
    pub fn remove(path: &Path) -> std::io::Result<()> {
        match std::fs::remove_file(path) {
            Err(err) if err.kind() != std::io::ErrorKind::NotFound => Err(err),
            _ => Ok(()),
        }
    }
}

/// `FILE.import-progress`, next to the input.
pub fn path_for(input: &Path) -> PathBuf {
    with_suffix(input, ".import-progress")
}

fn with_suffix(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A fresh directory of this test's own under the system's temp directory.
    pub(crate) fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!(
            "keygate-import-{name}-{}-{:?}",
            std::process::id(),
            std::time::SystemTime::now()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn progress_is_saved_and_loaded_for_the_same_input() {
        let dir = scratch("same");
        let path = path_for(&dir.join("keys.csv"));
        assert_eq!(path, dir.join("keys.csv.import-progress"));
        let input = Fingerprint::of(b"key,name,status\n");
        assert_eq!(Progress::load(&path, &input), Ok(None));
        let mut progress = Progress::start(input.clone());
        progress.rows_done = 1000;
        progress.imported = 997;
        progress.skip("line 5 (ab12…)", "already present");
        progress.failures.push(Failure {
            place: "line 9".to_owned(),
            reason: "no key".to_owned(),
        });
        progress.save(&path).unwrap();
        assert!(
            !with_suffix(&path, ".tmp").exists(),
            "the temp file is renamed"
        );
        assert_eq!(Progress::load(&path, &input), Ok(Some(progress)));
        Progress::remove(&path).unwrap();
        Progress::remove(&path).unwrap();
        assert_eq!(Progress::load(&path, &input), Ok(None));
    }

    #[test]
    fn progress_of_another_input_is_refused() {
        let dir = scratch("changed");
        let path = path_for(&dir.join("keys.csv"));
        Progress::start(Fingerprint::of(b"one"))
            .save(&path)
            .unwrap();
        let err = Progress::load(&path, &Fingerprint::of(b"two")).unwrap_err();
        assert!(
            err.contains("has changed") && err.contains("--restart"),
            "{err}"
        );
    }

    #[test]
    fn a_progress_file_that_cannot_be_read_is_refused() {
        let dir = scratch("garbled");
        let path = path_for(&dir.join("keys.csv"));
        std::fs::write(&path, "{\"rows_d").unwrap();
        let err = Progress::load(&path, &Fingerprint::of(b"one")).unwrap_err();
        assert!(err.contains("--restart"), "{err}");
    }
}
