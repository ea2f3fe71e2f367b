//! The plugin file: checked once, then pinned, so that every process
//! started for a capability runs the very file that was checked.
//!
//! On Linux the file is opened (`O_PATH`) when the capability is
//! configured, and each process is started through `/proc/self/fd/<n>` of
//! that descriptor: renaming another file or a symlink over the path later
//! changes nothing, for the first start and for every restart. Replacing a
//! plugin therefore takes effect when the capability is configured again
//! (`POST /providers/{cap}` or a host restart). Elsewhere the file's device
//! and inode are re-checked before every start, and a changed file is not
//! run.
//!
//! Checks, in order, for a path from the API: absolute; it resolves
//! (symlinks, `..`) to a file inside a directory of `OPSORCH_PLUGIN_DIR`;
//! not a shared library; a regular, executable file; neither the file nor
//! any directory between it and the plugin directory is writable by group
//! or others or owned by a user other than root and the host's own (as
//! OpenSSH's `StrictModes`). Every path refused before it is known to be an
//! existing file inside a plugin directory gets the same answer, so the API
//! tells nothing about files elsewhere. Paths from the environment are the
//! operator's: they get the same checks, but loose permissions are only
//! logged as a warning.

use std::path::{Path, PathBuf};

use crate::safe_text::quoted;

/// Why a plugin file is refused. Messages quote the path bounded and
/// escaped, and never more than the path.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum FileRefusal {
    #[error(
        "plugin `{0}` refused: plugins can be set through the API only when \
         OPSORCH_PLUGIN_DIR names the directories they may come from"
    )]
    NoPluginDirs(String),
    #[error("plugin `{0}` refused: the path must be absolute")]
    Relative(String),
    /// The one answer for every path that is not an existing file inside a
    /// plugin directory.
    #[error(
        "plugin `{0}` refused: it is not an executable file inside a configured \
         plugin directory (OPSORCH_PLUGIN_DIR)"
    )]
    NotAllowed(String),
    #[error("plugin `{0}` was not found in PATH (give an absolute path)")]
    NotInPath(String),
    #[error("plugin `{0}` does not exist")]
    Missing(String),
    #[error("plugin `{0}` cannot be accessed (permission denied)")]
    Denied(String),
    #[error("plugin `{0}` cannot be read: {1}")]
    Unreadable(String, String),
    #[error("plugin `{0}` is not a file")]
    NotAFile(String),
    #[error("plugin `{0}` is not executable (no execute permission)")]
    NotExecutable(String),
    #[error(
        "plugin `{0}` is a shared library, not an executable: adapter libraries \
         (.so/.dylib) are loaded from OPSORCH_PLUGIN_DIR and chosen by `provider`"
    )]
    SharedLibrary(String),
    #[error(
        "plugin `{0}` refused: `{1}` is writable by group or others (mode {2:03o}); \
         anyone who can write it could run code as the host"
    )]
    Writable(String, String, u32),
    #[error(
        "plugin `{0}` refused: `{1}` is owned by uid {2}, neither root nor the \
         host's own user"
    )]
    ForeignOwner(String, String, u32),
}

/// A checked plugin file, pinned for every start.
#[derive(Debug)]
pub(crate) struct Executable {
    /// The path that was checked: shown in logs and passed as `argv[0]`.
    pub path: PathBuf,
    #[cfg(target_os = "linux")]
    pinned: std::os::fd::OwnedFd,
    #[cfg(not(target_os = "linux"))]
    identity: (u64, u64),
}

fn shown(path: &Path) -> String {
    quoted(&path.display().to_string())
}

/// The file for a plugin path from the environment: an absolute or
/// relative path, or a bare name looked up in `PATH` (as Go's
/// `exec.Command` does). Loose permissions are returned as warnings.
pub(crate) fn trusted(path: &Path) -> Result<(Executable, Vec<FileRefusal>), FileRefusal> {
    let resolved = if path.components().count() == 1 && !path.is_absolute() {
        search_path(path).ok_or_else(|| FileRefusal::NotInPath(shown(path)))?
    } else if path.is_relative() {
        std::env::current_dir()
            .map(|cwd| cwd.join(path))
            .unwrap_or_else(|_| path.to_path_buf())
    } else {
        path.to_path_buf()
    };
    let executable = Executable::open(&resolved, false).map_err(|e| describe_io(&resolved, &e))?;
    executable.check_file()?;
    let mut warnings = Vec::new();
    let mut checked = vec![resolved.clone()];
    if let Some(parent) = resolved.parent() {
        checked.push(parent.to_path_buf());
    }
    for item in checked {
        if let Err(loose) = strict_mode(&resolved, &item) {
            warnings.push(loose);
        }
    }
    Ok((executable, warnings))
}

/// The file for a plugin path from the HTTP API: it must resolve inside one
/// of `dirs` (see the module docs for every check).
pub(crate) fn allowlisted(path: &Path, dirs: &[PathBuf]) -> Result<Executable, FileRefusal> {
    if dirs.is_empty() {
        return Err(FileRefusal::NoPluginDirs(shown(path)));
    }
    if !path.is_absolute() {
        return Err(FileRefusal::Relative(shown(path)));
    }
    let refused = || FileRefusal::NotAllowed(shown(path));
    let dirs: Vec<PathBuf> = dirs
        .iter()
        .filter_map(|dir| std::fs::canonicalize(dir).ok())
        .collect();
    let canonical = match std::fs::canonicalize(path) {
        Ok(canonical) => canonical,
        Err(_) if is_missing_inside(path, &dirs) => return Err(FileRefusal::Missing(shown(path))),
        Err(_) => return Err(refused()),
    };
    let dir = dirs
        .into_iter()
        .find(|dir| canonical.starts_with(dir) && canonical != *dir)
        .ok_or_else(refused)?;
    // Opened without following a symlink: one renamed over the checked
    // name since canonicalisation is refused, not followed.
    let executable = Executable::open(&canonical, true).map_err(|_| refused())?;
    if !executable.is_inside(&dir) {
        return Err(refused());
    }
    executable.check_file()?;
    let mut item = canonical.as_path();
    loop {
        strict_mode(&canonical, item)?;
        if item == dir {
            break;
        }
        match item.parent() {
            Some(parent) => item = parent,
            None => break,
        }
    }
    Ok(executable)
}

/// Whether `path` names nothing at all (not even a dangling symlink) in a
/// directory that is itself inside a plugin directory: the one refusal
/// that may say "does not exist", since it tells only about names inside
/// the plugin directories.
fn is_missing_inside(path: &Path, dirs: &[PathBuf]) -> bool {
    let (Some(parent), Some(_)) = (path.parent(), path.file_name()) else {
        return false;
    };
    let inside = std::fs::canonicalize(parent)
        .is_ok_and(|parent| dirs.iter().any(|dir| parent.starts_with(dir)));
    inside
        && std::fs::symlink_metadata(path).is_err_and(|e| e.kind() == std::io::ErrorKind::NotFound)
}

/// Refuses `item` (the plugin or a directory above it) when others than
/// its owner may write it, or its owner is neither root nor the host.
fn strict_mode(plugin: &Path, item: &Path) -> Result<(), FileRefusal> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let Ok(meta) = std::fs::metadata(item) else {
            return Ok(());
        };
        let mode = meta.mode() & 0o7777;
        if mode & 0o022 != 0 {
            return Err(FileRefusal::Writable(shown(plugin), shown(item), mode));
        }
        let owner = meta.uid();
        if owner != 0 && owner != rustix::process::geteuid().as_raw() {
            return Err(FileRefusal::ForeignOwner(shown(plugin), shown(item), owner));
        }
    }
    #[cfg(not(unix))]
    let _ = (plugin, item);
    Ok(())
}

/// Whether the name says shared library: `.so`, `.so.N…` or `.dylib`.
fn is_shared_library(path: &Path) -> bool {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().to_ascii_lowercase())
        .unwrap_or_default();
    name.ends_with(".so") || name.ends_with(".dylib") || name.contains(".so.")
}

fn describe_io(path: &Path, err: &std::io::Error) -> FileRefusal {
    match err.kind() {
        std::io::ErrorKind::NotFound => FileRefusal::Missing(shown(path)),
        std::io::ErrorKind::PermissionDenied => FileRefusal::Denied(shown(path)),
        _ => FileRefusal::Unreadable(shown(path), err.to_string()),
    }
}

fn search_path(name: &Path) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|candidate| Executable::open(candidate, false).is_ok_and(|e| e.check_file().is_ok()))
}

impl Executable {
    #[cfg(target_os = "linux")]
    fn open(path: &Path, no_follow: bool) -> std::io::Result<Executable> {
        use rustix::fs::{Mode, OFlags};
        let mut flags = OFlags::PATH | OFlags::CLOEXEC;
        if no_follow {
            flags |= OFlags::NOFOLLOW;
        }
        let pinned = rustix::fs::open(path, flags, Mode::empty())?;
        Ok(Executable {
            path: path.to_path_buf(),
            pinned,
        })
    }

    #[cfg(not(target_os = "linux"))]
    fn open(path: &Path, no_follow: bool) -> std::io::Result<Executable> {
        let meta = if no_follow {
            std::fs::symlink_metadata(path)?
        } else {
            std::fs::metadata(path)?
        };
        Ok(Executable {
            path: path.to_path_buf(),
            identity: identity(&meta),
        })
    }

    /// The checked file's metadata (of the pinned descriptor on Linux).
    fn metadata(&self) -> std::io::Result<std::fs::Metadata> {
        #[cfg(target_os = "linux")]
        {
            std::fs::metadata(self.proc_path())
        }
        #[cfg(not(target_os = "linux"))]
        {
            std::fs::metadata(&self.path)
        }
    }

    /// Whether the opened file lies inside `dir` (canonical).
    fn is_inside(&self, dir: &Path) -> bool {
        #[cfg(target_os = "linux")]
        {
            std::fs::read_link(self.proc_path()).is_ok_and(|real| real.starts_with(dir))
        }
        #[cfg(not(target_os = "linux"))]
        {
            self.path.starts_with(dir)
        }
    }

    fn check_file(&self) -> Result<(), FileRefusal> {
        if is_shared_library(&self.path) {
            return Err(FileRefusal::SharedLibrary(shown(&self.path)));
        }
        let meta = self.metadata().map_err(|e| describe_io(&self.path, &e))?;
        if !meta.is_file() {
            return Err(FileRefusal::NotAFile(shown(&self.path)));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if meta.permissions().mode() & 0o111 == 0 {
                return Err(FileRefusal::NotExecutable(shown(&self.path)));
            }
        }
        Ok(())
    }

    #[cfg(target_os = "linux")]
    fn proc_path(&self) -> PathBuf {
        use std::os::fd::AsRawFd;
        PathBuf::from(format!("/proc/self/fd/{}", self.pinned.as_raw_fd()))
    }

    /// A command that runs the checked file, with `argv[0]` its path.
    #[cfg(target_os = "linux")]
    pub fn command(&self) -> std::io::Result<tokio::process::Command> {
        use std::os::fd::{AsRawFd, BorrowedFd};
        let fd = self.pinned.as_raw_fd();
        let mut command = tokio::process::Command::new(self.proc_path());
        command.arg0(&self.path);
        // SAFETY: the closure runs in the child between fork and exec. It
        // only calls fcntl(2), which is async-signal-safe, and neither
        // allocates nor takes a lock. `fd` is open in the child: it was
        // inherited from the parent, where `self` keeps it open while the
        // command is spawned. Clearing close-on-exec keeps it open across
        // the exec, so that a script's interpreter can open
        // /proc/self/fd/<fd> in its turn.
        unsafe {
            command.pre_exec(move || {
                let fd = BorrowedFd::borrow_raw(fd);
                rustix::io::fcntl_setfd(fd, rustix::io::FdFlags::empty())?;
                Ok(())
            });
        }
        Ok(command)
    }

    /// A command that runs the checked file, provided it is still the file
    /// that was checked.
    #[cfg(not(target_os = "linux"))]
    pub fn command(&self) -> std::io::Result<tokio::process::Command> {
        let now = identity(&std::fs::metadata(&self.path)?);
        if now != self.identity {
            return Err(std::io::Error::other(
                "the plugin file was replaced since it was checked; configure it again",
            ));
        }
        Ok(tokio::process::Command::new(&self.path))
    }
}

#[cfg(not(target_os = "linux"))]
fn identity(meta: &std::fs::Metadata) -> (u64, u64) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        (meta.dev(), meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        (0, 0)
    }
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn write(path: &Path, mode: u32) {
        std::fs::write(path, "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn paths_are_checked_and_allowlisted() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("plugins");
        let outside = root.path().join("elsewhere");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        let exe = dir.join("good");
        write(&exe, 0o755);
        let plain = dir.join("plain");
        write(&plain, 0o644);
        let stranger = outside.join("bad");
        write(&stranger, 0o755);
        let escape = dir.join("escape");
        symlink(&stranger, &escape).unwrap();
        let dirs = [dir.clone()];

        assert_eq!(trusted(&exe).unwrap().0.path, exe);
        assert!(matches!(
            trusted(&dir.join("missing")),
            Err(FileRefusal::Missing(_))
        ));
        assert!(matches!(
            trusted(&plain),
            Err(FileRefusal::NotExecutable(_))
        ));
        assert!(matches!(trusted(&dir), Err(FileRefusal::NotAFile(_))));
        assert!(trusted(Path::new("sh")).is_ok(), "bare names use PATH");
        // Trusted paths may live anywhere.
        assert!(trusted(&stranger).is_ok());

        let canonical_exe = std::fs::canonicalize(&exe).unwrap();
        assert_eq!(allowlisted(&exe, &dirs).unwrap().path, canonical_exe);
        let dotted = dir.join("..").join("plugins").join("good");
        assert_eq!(allowlisted(&dotted, &dirs).unwrap().path, canonical_exe);
        // Outside, missing, through a symlink out: one answer.
        for refused in [
            stranger.clone(),
            escape.clone(),
            dir.join("..").join("elsewhere").join("bad"),
            dir.join("..").join("elsewhere").join("nope"),
            PathBuf::from("/nonexistent/x"),
        ] {
            assert!(
                matches!(
                    allowlisted(&refused, &dirs),
                    Err(FileRefusal::NotAllowed(_))
                ),
                "{}",
                refused.display()
            );
        }
        assert!(matches!(
            allowlisted(&plain, &dirs),
            Err(FileRefusal::NotExecutable(_))
        ));
        // A name missing inside a plugin directory may say so.
        assert!(matches!(
            allowlisted(&dir.join("nope"), &dirs),
            Err(FileRefusal::Missing(_))
        ));
        // Not a dangling symlink inside it, whose target is elsewhere.
        let dangling = dir.join("dangling");
        symlink(outside.join("nope"), &dangling).unwrap();
        assert!(matches!(
            allowlisted(&dangling, &dirs),
            Err(FileRefusal::NotAllowed(_))
        ));
        assert!(matches!(
            allowlisted(&exe, &[]),
            Err(FileRefusal::NoPluginDirs(_))
        ));
        assert!(matches!(
            allowlisted(Path::new("plugins/good"), &dirs),
            Err(FileRefusal::Relative(_))
        ));
        // A sibling whose name merely starts with the directory's is outside.
        let sibling = root.path().join("plugins-evil");
        std::fs::create_dir_all(&sibling).unwrap();
        let evil = sibling.join("x");
        write(&evil, 0o755);
        assert!(allowlisted(&evil, &dirs).is_err());
    }

    #[test]
    fn loose_permissions_and_libraries_are_refused() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("plugins");
        std::fs::create_dir_all(&dir).unwrap();
        let dirs = [dir.clone()];
        let loose = dir.join("loose");
        write(&loose, 0o757);
        assert!(matches!(
            allowlisted(&loose, &dirs),
            Err(FileRefusal::Writable(_, _, 0o757))
        ));
        // From the environment it runs, with a warning.
        let (_, warnings) = trusted(&loose).unwrap();
        assert_eq!(warnings.len(), 1);
        let sub = dir.join("sub");
        std::fs::create_dir(&sub).unwrap();
        std::fs::set_permissions(&sub, std::fs::Permissions::from_mode(0o775)).unwrap();
        let inner = sub.join("p");
        write(&inner, 0o755);
        let err = allowlisted(&inner, &dirs).unwrap_err();
        assert!(matches!(err, FileRefusal::Writable(_, ref item, 0o775) if item.ends_with("sub")));
        for name in ["libx.so", "libx.so.1", "libx.dylib"] {
            let lib = dir.join(name);
            write(&lib, 0o755);
            assert!(matches!(
                allowlisted(&lib, &dirs),
                Err(FileRefusal::SharedLibrary(_))
            ));
            assert!(matches!(trusted(&lib), Err(FileRefusal::SharedLibrary(_))));
        }
    }

    #[test]
    fn long_paths_are_quoted_bounded() {
        let long = PathBuf::from(format!("/{}", "a".repeat(100_000)));
        let message = allowlisted(&long, &[PathBuf::from("/p")])
            .unwrap_err()
            .to_string();
        assert!(message.len() < 600, "{}", message.len());
        assert!(message.contains('…'));
    }

    #[cfg(target_os = "linux")]
    #[tokio::test]
    async fn the_pinned_file_runs_after_the_path_changes() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path().join("plugins");
        std::fs::create_dir_all(&dir).unwrap();
        let exe = dir.join("p");
        std::fs::write(&exe, "#!/bin/sh\necho checked\n").unwrap();
        std::fs::set_permissions(&exe, std::fs::Permissions::from_mode(0o755)).unwrap();
        let pinned = allowlisted(&exe, std::slice::from_ref(&dir)).unwrap();
        let other = root.path().join("other");
        std::fs::write(&other, "#!/bin/sh\necho swapped\n").unwrap();
        std::fs::set_permissions(&other, std::fs::Permissions::from_mode(0o755)).unwrap();
        let link = dir.join("link");
        symlink(&other, &link).unwrap();
        std::fs::rename(&link, &exe).unwrap();
        for _ in 0..2 {
            let out = pinned.command().unwrap().output().await.unwrap();
            assert_eq!(String::from_utf8_lossy(&out.stdout), "checked\n");
        }
    }
}
