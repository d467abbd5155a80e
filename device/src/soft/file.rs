//! Loading and saving a [`TokenState`] so that a crash at any instant leaves
//! either the old or the new file, never a torn one: write a temporary file
//! in the same directory, fsync it, rename it over the old one, fsync the
//! directory so the rename itself is durable. Files are private (mode 0600),
//! and the temporary file is always a new one: created exclusively under an
//! unpredictable name, never through a symbolic link, so another local user
//! cannot plant a link that makes the token write its keys elsewhere or read
//! them from a file they own.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::state::{StateError, TokenState};

/// Why the state file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FileError {
    /// The operating system refused.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The OS error.
        source: std::io::Error,
    },
    /// The file is not a state in JSON.
    #[error("{path} is not a soft-token state: {source}")]
    Json {
        /// The file.
        path: PathBuf,
        /// Where parsing stopped.
        source: serde_json::Error,
    },
    /// The file parses but cannot be used.
    #[error("{path}: {source}")]
    Invalid {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: StateError,
    },
}

fn io<'a>(action: &'static str, path: &'a Path) -> impl FnOnce(std::io::Error) -> FileError + 'a {
    move |source| FileError::Io { action, path: path.to_owned(), source }
}

/// Reads and validates a state file; `Ok(None)` when it does not exist yet.
pub fn load(path: &Path) -> Result<Option<TokenState>, FileError> {
    let text = match fs::read_to_string(path) {
        Ok(text) => zeroize::Zeroizing::new(text),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(io("cannot read", path)(e)),
    };
    let state: TokenState =
        serde_json::from_str(&text).map_err(|source| FileError::Json { path: path.to_owned(), source })?;
    state.validate().map_err(|source| FileError::Invalid { path: path.to_owned(), source })?;
    Ok(Some(state))
}

/// Creates `path` as a new file only this user can read: it must not exist
/// (`O_CREAT | O_EXCL`), and a symbolic link there is refused rather than
/// followed (`O_NOFOLLOW`), whoever planted it.
fn create_private(path: &Path) -> std::io::Result<File> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600).custom_flags(libc::O_NOFOLLOW);
    }
    options.open(path)
}

/// Replaces the state file atomically and durably.
pub fn save(path: &Path, state: &TokenState) -> Result<(), FileError> {
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.to_owned(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let mut nonce = [0u8; 8];
    rand::Rng::fill_bytes(&mut rand::rand_core::UnwrapErr(rand::rngs::SysRng), &mut nonce);
    let nonce: String = nonce.iter().map(|b| format!("{b:02x}")).collect();
    let temp = dir.join(format!(".{name}.tmp.{}.{nonce}", std::process::id()));
    let json = zeroize::Zeroizing::new(
        serde_json::to_vec_pretty(state)
            .map_err(|source| FileError::Json { path: path.to_owned(), source })?,
    );
    let mut file = create_private(&temp).map_err(io("cannot create", &temp))?;
    let result = (|| {
        file.write_all(&json).map_err(io("cannot write", &temp))?;
        file.sync_all().map_err(io("cannot fsync", &temp))?;
        fs::rename(&temp, path).map_err(io("cannot rename into place", path))?;
        File::open(&dir).and_then(|d| d.sync_all()).map_err(io("cannot fsync directory", &dir))
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::soft::state::{Attestation, Secret};

    fn state() -> TokenState {
        let attestation = Attestation {
            certificate: include_bytes!("../../../fixtures/soft-token/attestation.der").to_vec(),
            private_key: Secret::new(
                include_bytes!("../../../fixtures/soft-token/attestation-key.der").to_vec(),
            ),
        };
        TokenState::generate(&mut rand::rand_core::UnwrapErr(rand::rngs::SysRng), attestation)
    }

    #[test]
    fn saves_atomically_and_loads_back() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        assert!(load(&path).unwrap().is_none());
        let mut s = state();
        save(&path, &s).unwrap();
        s.counter = 41;
        save(&path, &s).unwrap();
        let back = load(&path).unwrap().unwrap();
        assert_eq!((back.counter, back.master_key), (41, s.master_key));
        let names: Vec<_> = fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(names, vec![std::ffi::OsString::from("token.json")], "no temporary file left behind");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(fs::metadata(&path).unwrap().permissions().mode() & 0o777, 0o600);
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_temporary_file_is_never_a_planted_link_or_file() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"the attacker wants this overwritten").unwrap();
        let link = dir.path().join(".token.json.tmp");
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        assert!(create_private(&link).is_err(), "a symbolic link is refused, not followed");
        let dangling = dir.path().join(".dangling.tmp");
        std::os::unix::fs::symlink(dir.path().join("does-not-exist"), &dangling).unwrap();
        assert!(create_private(&dangling).is_err(), "a dangling link creates nothing");
        assert!(!dir.path().join("does-not-exist").exists());
        assert!(create_private(&victim).is_err(), "an existing file is refused");
        assert_eq!(fs::read(&victim).unwrap(), b"the attacker wants this overwritten");
        let fresh = dir.path().join(".fresh.tmp");
        drop(create_private(&fresh).unwrap());
        assert_eq!(fs::metadata(&fresh).unwrap().permissions().mode() & 0o777, 0o600);
        // A link planted where a predictable temporary name would be (the
        // process id) catches nothing: the real name is unguessable.
        let path = dir.path().join("token.json");
        std::os::unix::fs::symlink(
            &victim,
            dir.path().join(format!(".token.json.tmp.{}", std::process::id())),
        )
        .unwrap();
        save(&path, &state()).unwrap();
        assert!(load(&path).unwrap().is_some());
        assert_eq!(fs::read(&victim).unwrap(), b"the attacker wants this overwritten");
    }

    #[test]
    fn a_corrupt_file_is_an_error_not_a_new_token() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("token.json");
        fs::write(&path, b"{\"version\": 1").unwrap();
        assert!(matches!(load(&path), Err(FileError::Json { .. })));
        let mut s = state();
        s.version = 9;
        fs::write(&path, serde_json::to_vec(&s).unwrap()).unwrap();
        assert!(matches!(load(&path), Err(FileError::Invalid { .. })));
    }
}
