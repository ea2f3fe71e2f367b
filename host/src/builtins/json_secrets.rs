//! The built-in `json` secret provider: a JSON file of key → string.
//!
//! Config `{"path": "<file>"}`. The file is read once at creation (missing,
//! unparsable or undecryptable → error, so the host refuses to start) and
//! rewritten on every `secret.put`: the new content goes to a temporary file
//! in the same directory (mode 0600), is fsynced, renamed over the old file,
//! and the directory is fsynced, so a crash leaves either the old or the new
//! file, never a truncated one. Temporary files left by a process that was
//! killed mid-write are removed when the store opens. Puts are serialised
//! inside the store so that concurrent writers cannot lose each other's
//! updates.
//!
//! # Read-only stores
//! A store whose file or directory has no owner write permission (`chmod
//! a-w`; honoured even when the host runs as root, who could write anyway),
//! or whose writes fail with a permission or read-only file system error
//! (a Kubernetes Secret mount), refuses `secret.put` with the code
//! [`SECRET_STORE_READ_ONLY`]; reads are unaffected.
//!
//! # Encryption at rest
//! With a [`SecretKey`] (`OPSORCH_SECRET_KEY`, or `OPSORCH_SECRET_KEY_FILE`
//! naming a file that holds it) every write is encrypted with AES-256-GCM
//! under a fresh random 96-bit nonce, and the file holds a versioned
//! envelope instead of the entries:
//!
//! ```json
//! {"opsorch-encrypted":1,"nonce":"<base64, 12 bytes>","ciphertext":"<base64>"}
//! ```
//!
//! The ciphertext (with its 16-byte tag) is the plain file's JSON, and the
//! additional authenticated data is `opsorch-encrypted:1`, so a file edited
//! by hand or decrypted with the wrong key is refused, never half-read. The
//! key is 32 bytes given as 64 hex characters or as base64 (standard
//! alphabet, padding optional); it is used as is, not derived from a
//! passphrase. A plain file still loads with a key set and is written
//! encrypted from the next `secret.put` on; an encrypted file without a key,
//! or with the wrong one, refuses start-up naming the key variable. The key
//! is never logged or shown (its `Debug` is redacted).

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};

use aes_gcm::aead::{Aead, AeadCore, KeyInit, OsRng, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use opsorch_plugin_api::methods::{Capability, Method};
use opsorch_plugin_api::protocol::{SecretGetPayload, SecretPutPayload};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use serde_json::{Map, Value};
use zeroize::Zeroize;

use crate::providers::seam::{
    BuildError, Json, Provider, ProviderError, ProviderFactory, ProviderFuture,
    SECRET_STORE_READ_ONLY,
};
use crate::settings::KeyMaterial;

/// The registered name of this provider.
pub const NAME: &str = "json";

/// The variables holding the encryption key (read by [`crate::settings`]).
pub use crate::settings::{SECRET_KEY_FILE_VAR as KEY_FILE_VAR, SECRET_KEY_VAR as KEY_VAR};

/// The top-level key that marks an encrypted file, and its version.
pub const ENVELOPE_MARK: &str = "opsorch-encrypted";
const ENVELOPE_VERSION: u64 = 1;
const ENVELOPE_AAD: &[u8] = b"opsorch-encrypted:1";

/// Start of the reason when a key does not decrypt the file.
pub const WRONG_KEY: &str = "cannot decrypt the secret file";
/// Start of the reason when the file is encrypted and no key is set.
pub const NO_KEY: &str = "the secret file is encrypted";

/// Why a secret file cannot be read. Reasons never quote its content.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SecretFileError {
    #[error("cannot read the secret file: {0}")]
    Read(String),
    #[error("{what} is not valid JSON (line {line} column {column})")]
    NotJson {
        what: &'static str,
        line: usize,
        column: usize,
    },
    #[error("the secret file is not a JSON object")]
    NotObject,
    #[error(
        "the secret file is encrypted with an unsupported envelope version (this host reads {ENVELOPE_VERSION})"
    )]
    UnsupportedEnvelope,
    /// The file is encrypted and no key is set.
    #[error("{NO_KEY}: set {KEY_VAR} or {KEY_FILE_VAR} to the key that wrote it")]
    NoKey,
    /// The key does not decrypt the file, or the envelope was altered.
    #[error("{WRONG_KEY}: {0}")]
    WrongKey(&'static str),
}

impl SecretFileError {
    /// Whether the key (or its absence) is at fault rather than the file.
    pub fn is_key_error(&self) -> bool {
        matches!(self, SecretFileError::NoKey | SecretFileError::WrongKey(_))
    }
}

/// The AES-256-GCM key of the secret file. Its `Debug` never shows it.
#[derive(Clone)]
pub struct SecretKey {
    cipher: Arc<Aes256Gcm>,
    /// Which variable it came from, for messages.
    variable: &'static str,
}

impl std::fmt::Debug for SecretKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SecretKey(from {}, redacted)", self.variable)
    }
}

impl SecretKey {
    /// The cipher for key material read by the settings.
    pub fn new(material: &KeyMaterial) -> SecretKey {
        SecretKey {
            cipher: Arc::new(Aes256Gcm::new(material.bytes().into())),
            variable: material.variable(),
        }
    }

    /// The variable the key came from.
    pub fn variable(&self) -> &'static str {
        self.variable
    }

    /// Encrypts `plain` into the envelope's JSON bytes, under a new nonce.
    pub fn seal(&self, plain: &[u8]) -> Result<Vec<u8>, String> {
        let nonce = Aes256Gcm::generate_nonce(&mut OsRng);
        let ciphertext = self
            .cipher
            .encrypt(
                &nonce,
                Payload {
                    msg: plain,
                    aad: ENVELOPE_AAD,
                },
            )
            .map_err(|_| "encryption failed".to_owned())?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let envelope = Envelope {
            version: ENVELOPE_VERSION,
            nonce: b64.encode(nonce),
            ciphertext: b64.encode(ciphertext),
        };
        serde_json::to_vec(&envelope).map_err(|e| format!("cannot encode the envelope: {e}"))
    }

    /// Decrypts an envelope (already parsed as JSON). Reasons never quote it.
    pub fn open_envelope(&self, envelope: Value) -> Result<Vec<u8>, SecretFileError> {
        let envelope = Envelope::from_value(envelope)?;
        let b64 = base64::engine::general_purpose::STANDARD;
        let nonce = b64
            .decode(&envelope.nonce)
            .ok()
            .filter(|n| n.len() == 12)
            .ok_or(SecretFileError::WrongKey(
                "the envelope's nonce is not 12 bytes of base64",
            ))?;
        let ciphertext = b64
            .decode(&envelope.ciphertext)
            .map_err(|_| SecretFileError::WrongKey("the envelope's ciphertext is not base64"))?;
        self.cipher
            .decrypt(
                Nonce::from_slice(&nonce),
                Payload {
                    msg: &ciphertext,
                    aad: ENVELOPE_AAD,
                },
            )
            .map_err(|_| SecretFileError::WrongKey("wrong key, or the file was altered"))
    }
}

/// The encrypted file's content.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Envelope {
    #[serde(rename = "opsorch-encrypted")]
    version: u64,
    nonce: String,
    ciphertext: String,
}

impl Envelope {
    fn from_value(value: Value) -> Result<Envelope, SecretFileError> {
        let version = value.get(ENVELOPE_MARK).and_then(Value::as_u64);
        if version != Some(ENVELOPE_VERSION) {
            return Err(SecretFileError::UnsupportedEnvelope);
        }
        serde_json::from_value(value).map_err(|_| {
            SecretFileError::WrongKey(
                "the envelope needs exactly `opsorch-encrypted`, `nonce` and `ciphertext`",
            )
        })
    }
}

/// Whether a parsed file is an encrypted envelope rather than entries.
pub fn is_envelope(value: &Value) -> bool {
    value.get(ENVELOPE_MARK).is_some()
}

/// Builds [`JsonSecretStore`]s from `{"path": …}`, encrypting with the key
/// when there is one.
#[derive(Default)]
pub struct JsonSecretFactory {
    pub key: Option<SecretKey>,
}

impl ProviderFactory for JsonSecretFactory {
    fn create(
        &self,
        capability: Capability,
        config: &Map<String, Value>,
    ) -> Result<Arc<dyn Provider>, BuildError> {
        if capability != Capability::Secret {
            return Err(BuildError::Invalid(format!(
                "the json provider cannot serve {capability}"
            )));
        }
        let path = match config.get("path") {
            Some(Value::String(p)) if !p.is_empty() => PathBuf::from(p),
            _ => return Err(BuildError::Invalid("config needs a \"path\" string".into())),
        };
        match JsonSecretStore::open_with(path, self.key.clone()) {
            Ok(store) => Ok(Arc::new(store)),
            // The key's variable is at fault, not the config.
            Err(err) if err.is_key_error() => Err(BuildError::Key {
                variable: self.key.as_ref().map_or(KEY_VAR, SecretKey::variable),
                reason: err.to_string(),
            }),
            Err(err) => Err(BuildError::Invalid(err.to_string())),
        }
    }
}

/// A secret store backed by one JSON file.
pub struct JsonSecretStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    path: PathBuf,
    key: Option<SecretKey>,
    /// The file's content, as last written. Locked only to read or swap it,
    /// never across file I/O, so gets do not wait for a disk write.
    entries: RwLock<Map<String, Value>>,
    /// Held for the whole of a put (read, write file, swap) so that
    /// concurrent puts apply one after another and none is lost.
    writer: Mutex<()>,
    /// Where the file is written: [`RealDisk`] outside tests.
    disk: Box<dyn Disk + Send + Sync>,
}

impl JsonSecretStore {
    /// Reads the file, decrypting it with `key` when it is encrypted; with a
    /// key, every write is encrypted. Reasons never quote the content.
    pub fn open_with(path: PathBuf, key: Option<SecretKey>) -> Result<Self, SecretFileError> {
        JsonSecretStore::open_on(Box::new(RealDisk), path, key)
    }

    fn open_on(
        disk: Box<dyn Disk + Send + Sync>,
        path: PathBuf,
        key: Option<SecretKey>,
    ) -> Result<Self, SecretFileError> {
        remove_stale_temporaries(&path);
        let text = fs::read(&path).map_err(|e| SecretFileError::Read(e.to_string()))?;
        let entries = decode_file(&text, key.as_ref())?;
        if let Some(mode) = open_to_others(&path) {
            // The owner keeps its own bits: a file made read-only stays so.
            let owner_only = mode & 0o700;
            let fixed = set_mode(&path, owner_only);
            tracing::warn!(
                file = %crate::safe_text::quoted(&path.display().to_string()),
                "the secret file was readable by group or others (mode {mode:03o}); {}",
                match fixed {
                    Ok(()) => format!("its mode is now {owner_only:03o}"),
                    Err(e) => format!("cannot change it to 600: {e}"),
                }
            );
        }
        Ok(JsonSecretStore {
            inner: Arc::new(StoreInner {
                path,
                key,
                entries: RwLock::new(entries),
                writer: Mutex::new(()),
                disk,
            }),
        })
    }

    fn get(&self, payload: &str) -> Result<Box<RawValue>, ProviderError> {
        let req: SecretGetPayload = serde_json::from_str(payload)
            .map_err(|_| ProviderError::new("bad_request", "secret.get needs {\"key\"}"))?;
        let entries = read(&self.inner.entries);
        let text = match entries.get(&req.key) {
            None => {
                return Err(ProviderError::new(
                    "not_found",
                    format!("secret {} not found", req.key),
                ))
            }
            Some(Value::String(s)) => s.clone(),
            // Objects (and anything else) are returned as their JSON text.
            Some(other) => other.to_string(),
        };
        drop(entries);
        json_string(&text)
    }

    fn put(inner: &StoreInner, payload: &str) -> Result<(), ProviderError> {
        let req: SecretPutPayload = serde_json::from_str(payload).map_err(|_| {
            ProviderError::new("bad_request", "secret.put needs {\"key\",\"value\"}")
        })?;
        let _writing = inner.writer.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(why) = read_only_reason(&inner.path) {
            return Err(ProviderError::new(SECRET_STORE_READ_ONLY, why));
        }
        // Another host may write the same file (two copies overlap during a
        // hot swap): hold the file's lock across read, change and write, and
        // start from what is on disk, so that neither write is lost.
        let _file_lock =
            lock_file(&inner.path).map_err(|e| write_error("cannot lock the secret file", &e))?;
        let mut next = match fs::read(&inner.path) {
            Ok(bytes) => decode_file(&bytes, inner.key.as_ref()).map_err(|e| {
                ProviderError::new("", format!("cannot re-read the secret file: {e}"))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Map::new(),
            Err(e) => {
                return Err(ProviderError::new(
                    "",
                    format!("cannot re-read the secret file: {e}"),
                ))
            }
        };
        next.insert(req.key, Value::String(req.value));
        let mut bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| ProviderError::new("", format!("cannot encode secrets: {e}")))?;
        if let Some(key) = &inner.key {
            let sealed = key.seal(&bytes);
            bytes.zeroize();
            bytes = sealed.map_err(|e| ProviderError::new("", e))?;
        }
        write_atomically(&*inner.disk, &inner.path, &bytes)
            .map_err(|e| write_error("cannot write the secret file", &e))?;
        *inner.entries.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }
}

impl Provider for JsonSecretStore {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        Box::pin(async move {
            match method {
                Method::SecretGet => self.get(&payload).map(Json::from),
                Method::SecretPut => {
                    let inner = Arc::clone(&self.inner);
                    tokio::task::spawn_blocking(move || JsonSecretStore::put(&inner, &payload))
                        .await
                        .map_err(|e| {
                            ProviderError::new("", format!("secret write failed: {e}"))
                        })??;
                    Ok(Json::from(RawValue::NULL.to_owned()))
                }
                other => Err(ProviderError::new(
                    "bad_request",
                    format!("the json secret provider does not support {other}"),
                )),
            }
        })
    }
}

/// Why the store is read-only on purpose: the file (when it exists) or its
/// directory has no owner write permission. `None` when both are writable.
fn read_only_reason(path: &Path) -> Option<String> {
    let no_write = |p: &Path| {
        fs::metadata(p)
            .ok()
            .map(|m| m.permissions().mode() & 0o777)
            .filter(|mode| mode & 0o200 == 0)
    };
    if let Some(mode) = no_write(path) {
        return Some(format!("the secret file is read-only (mode {mode:03o})"));
    }
    no_write(&parent_dir(path))
        .map(|mode| format!("the secret file's directory is read-only (mode {mode:03o})"))
}

/// A failed lock or write: [`SECRET_STORE_READ_ONLY`] when the file system
/// or the permissions refuse it, otherwise a plain provider error.
fn write_error(what: &str, e: &std::io::Error) -> ProviderError {
    let code = match e.kind() {
        std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::ReadOnlyFilesystem => {
            SECRET_STORE_READ_ONLY
        }
        _ => "",
    };
    ProviderError::new(code, format!("{what}: {e}"))
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn json_string(s: &str) -> Result<Box<RawValue>, ProviderError> {
    serde_json::value::to_raw_value(s).map_err(|e| ProviderError::new("", e.to_string()))
}

/// The entries of a secret file's bytes, decrypted with `key` when the file
/// is an envelope. Reasons never quote the content.
pub fn decode_file(
    bytes: &[u8],
    key: Option<&SecretKey>,
) -> Result<Map<String, Value>, SecretFileError> {
    let value = parse_json(bytes, "the secret file")?;
    let value = if is_envelope(&value) {
        let Some(key) = key else {
            return Err(SecretFileError::NoKey);
        };
        let mut plain = key.open_envelope(value)?;
        let inner = parse_json(&plain, "the decrypted secret file");
        plain.zeroize();
        inner?
    } else {
        if key.is_some() {
            tracing::info!(
                "the secret file is not encrypted yet; it will be from the next write on"
            );
        }
        value
    };
    match value {
        Value::Object(map) => Ok(map),
        _ => Err(SecretFileError::NotObject),
    }
}

fn parse_json(bytes: &[u8], what: &'static str) -> Result<Value, SecretFileError> {
    serde_json::from_slice::<Value>(bytes).map_err(|e| SecretFileError::NotJson {
        what,
        line: e.line(),
        column: e.column(),
    })
}

/// The permission bits of a file group or others have any access to, or
/// `None` (owner-only, unreadable, or not Unix).
fn open_to_others(path: &Path) -> Option<u32> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(path).ok()?.permissions().mode() & 0o777;
        (mode & 0o077 != 0).then_some(mode)
    }
    #[cfg(not(unix))]
    {
        let _ = path;
        None
    }
}

fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        fs::set_permissions(path, fs::Permissions::from_mode(mode))
    }
    #[cfg(not(unix))]
    {
        let _ = (path, mode);
        Ok(())
    }
}

/// The name prefix of `path`'s temporary files: `.<name>.`; they end in
/// `<pid>.<random>.tmp`.
fn temp_prefix(path: &Path) -> String {
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "secrets".into());
    format!(".{file_name}.")
}

/// Takes the exclusive lock (`flock`) of the secret file's lock file,
/// `.<name>.lock` beside it (mode 0600): the data file itself is replaced
/// by each write, so it cannot carry the lock. Released when the returned
/// file is dropped.
fn lock_file(path: &Path) -> std::io::Result<File> {
    let lock = open_lock_file(path)?;
    rustix::fs::flock(&lock, rustix::fs::FlockOperation::LockExclusive)?;
    Ok(lock)
}

/// [`lock_file`] without waiting: `None` while another writer holds it.
fn try_lock_file(path: &Path) -> std::io::Result<Option<File>> {
    let lock = open_lock_file(path)?;
    match rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        Ok(()) => Ok(Some(lock)),
        Err(rustix::io::Errno::WOULDBLOCK) => Ok(None),
        Err(e) => Err(e.into()),
    }
}

fn open_lock_file(path: &Path) -> std::io::Result<File> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(parent_dir(path).join(format!(".{name}.lock")))
}

fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Removes temporary files that a process killed mid-write left next to
/// `path` (they may hold secrets).
///
/// Every write makes, fills and renames its temporary file while holding
/// the file's lock (see [`JsonSecretStore::put`]), so a temporary found
/// while this function holds the lock belongs to no write under way. The
/// lock is only tried: while another store writes (a host overlapping
/// this one during a swap), nothing is removed, and the next start cleans
/// up. Without a lock file (a read-only directory, where nothing could be
/// removed anyway) nothing is removed either. Only names of the writer's
/// shape (`.<name>.<pid>.<random>.tmp`) are touched.
fn remove_stale_temporaries(path: &Path) {
    let Ok(Some(_lock)) = try_lock_file(path) else {
        return;
    };
    let prefix = temp_prefix(path);
    let Ok(entries) = fs::read_dir(parent_dir(path)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name
            .strip_prefix(&prefix)
            .and_then(|r| r.strip_suffix(".tmp"))
        else {
            continue;
        };
        let mut parts = rest.split('.');
        let (Some(pid), Some(n), None) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let pid_shaped = !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit());
        let random_shaped = !n.is_empty() && n.bytes().all(|b| b.is_ascii_alphanumeric());
        if pid_shaped && random_shaped {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// The file-system operations of an atomic write. The store always uses
/// [`RealDisk`]; the tests put one in between that records the order of the
/// operations and fails one of them, as a crash at that point would.
trait Disk {
    fn write(&self, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
        file.write_all(bytes)
    }
    fn sync_file(&self, file: &File) -> std::io::Result<()> {
        file.sync_all()
    }
    /// Renames the temporary file over `to`; on an error it is removed.
    fn rename(&self, temp: tempfile::NamedTempFile, to: &Path) -> std::io::Result<()> {
        temp.persist(to).map(drop).map_err(|e| e.error)
    }
    fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
        File::open(dir)?.sync_all()
    }
}

/// The operating system's file system.
struct RealDisk;

impl Disk for RealDisk {}

/// Replaces `path` with `bytes` so that a crash at any point leaves either the
/// old or the new content: write a temporary file next to `path`, fsync it,
/// rename it over `path`, fsync the directory. On an error the temporary
/// file is removed.
fn write_atomically(disk: &dyn Disk, path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = parent_dir(path);
    // A uniquely named 0600 file next to the target (`tempfile`), removed
    // again (when dropped) if anything below fails.
    let mut temp = tempfile::Builder::new()
        .prefix(&format!("{}{}.", temp_prefix(path), std::process::id()))
        .suffix(".tmp")
        .permissions(fs::Permissions::from_mode(0o600))
        .tempfile_in(&dir)?;
    disk.write(temp.as_file_mut(), bytes)?;
    disk.sync_file(temp.as_file())?;
    disk.rename(temp, path)?;
    disk.sync_dir(&dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One operation of an atomic write, as [`Recording`] saw it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq)]
    enum Op {
        Write,
        SyncFile,
        Rename,
        SyncDir,
    }

    /// The real file system, recording each operation; the operation
    /// `fail` (if any) is not done and fails instead, as if the process
    /// had died there.
    struct Recording {
        fail: Option<Op>,
        done: Mutex<Vec<Op>>,
    }

    impl Recording {
        fn failing(fail: Option<Op>) -> Recording {
            Recording {
                fail,
                done: Mutex::new(Vec::new()),
            }
        }

        fn step(&self, op: Op, real: impl FnOnce() -> std::io::Result<()>) -> std::io::Result<()> {
            if self.fail == Some(op) {
                return Err(std::io::Error::other(format!("injected failure at {op:?}")));
            }
            real()?;
            self.done.lock().unwrap().push(op);
            Ok(())
        }

        fn done(&self) -> Vec<Op> {
            self.done.lock().unwrap().clone()
        }
    }

    impl Disk for Recording {
        fn write(&self, file: &mut File, bytes: &[u8]) -> std::io::Result<()> {
            self.step(Op::Write, || RealDisk.write(file, bytes))
        }
        fn sync_file(&self, file: &File) -> std::io::Result<()> {
            self.step(Op::SyncFile, || RealDisk.sync_file(file))
        }
        fn rename(&self, temp: tempfile::NamedTempFile, to: &Path) -> std::io::Result<()> {
            self.step(Op::Rename, || RealDisk.rename(temp, to))
        }
        fn sync_dir(&self, dir: &Path) -> std::io::Result<()> {
            self.step(Op::SyncDir, || RealDisk.sync_dir(dir))
        }
    }

    /// The files in `dir` other than `secrets.json` (temporaries left over).
    /// Files beside the secret file other than itself and its lock file
    /// (which stays by design, see `lock_file`): temporary files a failed
    /// write left behind.
    fn leftovers(dir: &Path) -> Vec<String> {
        fs::read_dir(dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n != "secrets.json" && n != ".secrets.json.lock")
            .collect()
    }

    /// What a restarted host reads back from `path`.
    fn reopened(path: &Path, key: Option<SecretKey>) -> Map<String, Value> {
        let store = JsonSecretStore::open_with(path.to_path_buf(), key).expect("the file opens");
        let entries = read(&store.inner.entries).clone();
        entries
    }

    #[test]
    fn an_atomic_write_syncs_the_file_before_the_rename_and_the_directory_after() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, r#"{"a":"1"}"#).unwrap();
        let disk = Recording::failing(None);
        write_atomically(&disk, &path, br#"{"a":"2"}"#).unwrap();
        assert_eq!(
            disk.done(),
            [Op::Write, Op::SyncFile, Op::Rename, Op::SyncDir]
        );
        assert_eq!(reopened(&path, None)["a"], "2");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }

    #[test]
    fn a_write_that_dies_before_the_rename_leaves_the_old_content() {
        for key in [None, Some(key(&"11".repeat(32)))] {
            for fail in [Op::Write, Op::SyncFile, Op::Rename] {
                let dir = tempfile::tempdir().unwrap();
                let path = dir.path().join("secrets.json");
                let old = serde_json::json!({"a": "1", "b": "old"});
                let mut old_bytes = serde_json::to_vec(&old).unwrap();
                if let Some(key) = &key {
                    old_bytes = key.seal(&old_bytes).unwrap();
                }
                fs::write(&path, &old_bytes).unwrap();
                let mut new_bytes = br#"{"a":"1","b":"new"}"#.to_vec();
                if let Some(key) = &key {
                    new_bytes = key.seal(&new_bytes).unwrap();
                }
                let disk = Recording::failing(Some(fail));
                let err = write_atomically(&disk, &path, &new_bytes).unwrap_err();
                assert!(err.to_string().contains("injected"), "{err}");
                assert!(!disk.done().contains(&Op::Rename), "{fail:?}");
                // Exactly the old file, decodable, and no temporary left
                // (it may hold secrets).
                assert_eq!(fs::read(&path).unwrap(), old_bytes, "{fail:?}");
                let back = reopened(&path, key.clone());
                assert_eq!(Value::Object(back), old, "{fail:?}");
                assert_eq!(leftovers(dir.path()), Vec::<String>::new(), "{fail:?}");
            }
        }
    }

    #[test]
    fn a_write_that_dies_after_the_rename_leaves_the_new_content() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, r#"{"b":"old"}"#).unwrap();
        let disk = Recording::failing(Some(Op::SyncDir));
        write_atomically(&disk, &path, br#"{"b":"new"}"#).unwrap_err();
        assert_eq!(disk.done(), [Op::Write, Op::SyncFile, Op::Rename]);
        assert_eq!(reopened(&path, None)["b"], "new");
        assert_eq!(leftovers(dir.path()), Vec::<String>::new());
    }

    #[tokio::test]
    async fn a_failed_put_answers_an_error_and_keeps_the_old_value() {
        for fail in [Op::SyncFile, Op::SyncDir] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("secrets.json");
            fs::write(&path, r#"{"k":"before"}"#).unwrap();
            let store = JsonSecretStore::open_on(
                Box::new(Recording::failing(Some(fail))),
                path.clone(),
                None,
            )
            .unwrap();
            let err = store
                .call(Method::SecretPut, r#"{"key":"k","value":"after"}"#.into())
                .await
                .unwrap_err();
            assert!(
                err.message.contains("cannot write the secret file"),
                "{err}"
            );
            assert!(err.message.contains("injected"), "{err}");
            // Not acknowledged, so not served.
            let raw = store
                .call(Method::SecretGet, r#"{"key":"k"}"#.into())
                .await
                .unwrap();
            assert_eq!(raw.get(), r#""before""#, "{fail:?}");
            // On disk: the old file when the rename never happened, the new
            // one (whole) when only the directory sync failed.
            let expected = if fail == Op::SyncDir {
                "after"
            } else {
                "before"
            };
            assert_eq!(reopened(&path, None)["k"], expected, "{fail:?}");
            assert_eq!(leftovers(dir.path()), Vec::<String>::new());
        }
    }

    /// A file system mounted read-only: every rename fails with EROFS.
    struct ReadOnlyMount;

    impl Disk for ReadOnlyMount {
        fn rename(&self, _: tempfile::NamedTempFile, _: &Path) -> std::io::Result<()> {
            Err(std::io::Error::from(std::io::ErrorKind::ReadOnlyFilesystem))
        }
    }

    async fn put_k(store: &JsonSecretStore) -> Result<Json, ProviderError> {
        store
            .call(Method::SecretPut, r#"{"key":"k","value":"after"}"#.into())
            .await
    }

    #[tokio::test]
    async fn a_read_only_file_directory_or_file_system_refuses_puts_with_its_code() {
        // `chmod a-w` on the file, then on the directory: refused before any
        // write (even as root), reads go on, nothing changes on disk.
        for read_only_dir in [false, true] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("secrets.json");
            fs::write(&path, r#"{"k":"before"}"#).unwrap();
            let store = JsonSecretStore::open_with(path.clone(), None).unwrap();
            let target = if read_only_dir { dir.path() } else { &path };
            let writable = fs::metadata(target).unwrap().permissions().mode() & 0o777;
            fs::set_permissions(target, fs::Permissions::from_mode(0o500)).unwrap();
            let err = put_k(&store).await.unwrap_err();
            fs::set_permissions(target, fs::Permissions::from_mode(writable)).unwrap();
            assert_eq!(err.code, SECRET_STORE_READ_ONLY, "{err:?}");
            let what = if read_only_dir {
                "the secret file's directory is read-only (mode 500)"
            } else {
                "the secret file is read-only (mode 500)"
            };
            assert_eq!(err.message, what);
            let raw = store
                .call(Method::SecretGet, r#"{"key":"k"}"#.into())
                .await
                .unwrap();
            assert_eq!(raw.get(), r#""before""#);
            assert_eq!(fs::read_to_string(&path).unwrap(), r#"{"k":"before"}"#);
            assert_eq!(leftovers(dir.path()), Vec::<String>::new());
            // Writable again: the same put goes through.
            put_k(&store).await.unwrap();
            assert_eq!(reopened(&path, None)["k"], "after");
        }

        // A read-only file system (EROFS from the write itself).
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, r#"{"k":"before"}"#).unwrap();
        let store = JsonSecretStore::open_on(Box::new(ReadOnlyMount), path.clone(), None).unwrap();
        let err = put_k(&store).await.unwrap_err();
        assert_eq!(err.code, SECRET_STORE_READ_ONLY, "{err:?}");
        assert!(
            err.message.starts_with("cannot write the secret file: "),
            "{err:?}"
        );
        assert_eq!(reopened(&path, None)["k"], "before");

        // Any other failure keeps the plain provider error.
        let other = write_error("cannot write the secret file", &std::io::Error::other("x"));
        assert_eq!(other.code, "");
    }

    #[test]
    fn closing_a_file_to_others_keeps_the_owner_bits() {
        for (mode, after) in [(0o644, 0o600), (0o444, 0o400), (0o640, 0o600)] {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("secrets.json");
            fs::write(&path, "{}").unwrap();
            fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
            JsonSecretStore::open_with(path.clone(), None).unwrap();
            let now = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
            assert_eq!(now, after, "{mode:o}");
        }
    }

    fn store(dir: &Path, content: &str) -> (PathBuf, Arc<dyn Provider>) {
        let path = dir.join("secrets.json");
        fs::write(&path, content).unwrap();
        let mut config = Map::new();
        config.insert("path".into(), Value::String(path.display().to_string()));
        let provider = JsonSecretFactory::default()
            .create(Capability::Secret, &config)
            .unwrap();
        (path, provider)
    }

    #[tokio::test]
    async fn get_returns_strings_and_objects_as_text() {
        let dir = tempfile::tempdir().unwrap();
        let (_, p) = store(dir.path(), r#"{"a":"x\"y","b":{"k":1}}"#);
        let a = p
            .call(Method::SecretGet, r#"{"key":"a"}"#.into())
            .await
            .unwrap();
        assert_eq!(serde_json::from_str::<String>(a.get()).unwrap(), "x\"y");
        let b = p
            .call(Method::SecretGet, r#"{"key":"b"}"#.into())
            .await
            .unwrap();
        assert_eq!(
            serde_json::from_str::<String>(b.get()).unwrap(),
            r#"{"k":1}"#
        );
        let err = p
            .call(Method::SecretGet, r#"{"key":"c"}"#.into())
            .await
            .unwrap_err();
        assert_eq!(err.code, "not_found");
    }

    #[tokio::test]
    async fn put_persists_with_mode_0600_and_no_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let (path, p) = store(dir.path(), "{}");
        p.call(Method::SecretPut, r#"{"key":"k","value":"v"}"#.into())
            .await
            .unwrap();
        let on_disk: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(on_disk, serde_json::json!({"k": "v"}));
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        let mut names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        names.sort();
        // The lock file stays (removing it could split two writers' locks).
        assert_eq!(names, [".secrets.json.lock", "secrets.json"]);
        // A new store over the same file sees the value.
        let (_, again) = {
            let mut config = Map::new();
            config.insert("path".into(), Value::String(path.display().to_string()));
            (
                (),
                JsonSecretFactory::default()
                    .create(Capability::Secret, &config)
                    .unwrap(),
            )
        };
        let v = again
            .call(Method::SecretGet, r#"{"key":"k"}"#.into())
            .await
            .unwrap();
        assert_eq!(v.get(), "\"v\"");
    }

    #[tokio::test]
    async fn concurrent_puts_lose_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let (path, p) = store(dir.path(), "{}");
        let p: Arc<dyn Provider> = p;
        let mut tasks = Vec::new();
        for i in 0..32 {
            let p = Arc::clone(&p);
            tasks.push(tokio::spawn(async move {
                p.call(
                    Method::SecretPut,
                    format!(r#"{{"key":"k{i}","value":"v{i}"}}"#),
                )
                .await
                .unwrap();
            }));
        }
        for t in tasks {
            t.await.unwrap();
        }
        let on_disk: Map<String, Value> =
            serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(on_disk.len(), 32);
    }

    #[test]
    fn refuses_missing_or_bad_files_without_quoting_them() {
        let dir = tempfile::tempdir().unwrap();
        let mut config = Map::new();
        let missing = dir.path().join("nope.json");
        config.insert("path".into(), Value::String(missing.display().to_string()));
        let err = JsonSecretFactory::default()
            .create(Capability::Secret, &config)
            .err()
            .unwrap()
            .to_string();
        assert!(err.starts_with("cannot read the secret file"), "{err}");

        let bad = dir.path().join("bad.json");
        fs::write(&bad, "{\"token\": hunter2").unwrap();
        config.insert("path".into(), Value::String(bad.display().to_string()));
        let err = JsonSecretFactory::default()
            .create(Capability::Secret, &config)
            .err()
            .unwrap()
            .to_string();
        assert!(
            err.contains("not valid JSON") && !err.contains("hunter2"),
            "{err}"
        );

        fs::write(&bad, "[\"hunter2\"]").unwrap();
        let err = JsonSecretFactory::default()
            .create(Capability::Secret, &config)
            .err()
            .unwrap()
            .to_string();
        assert_eq!(err, "the secret file is not a JSON object");

        let err = JsonSecretFactory::default()
            .create(Capability::Secret, &Map::new())
            .err()
            .unwrap()
            .to_string();
        assert!(err.contains("path"));
    }

    const HEX_KEY: &str = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

    /// The key the settings read from `text` (parsing is theirs, tested
    /// in `settings`).
    fn key(text: &str) -> SecretKey {
        SecretKey::new(&KeyMaterial::parse(text, KEY_VAR).unwrap())
    }

    async fn put(p: &Arc<dyn Provider>, k: &str, v: &str) {
        p.call(
            Method::SecretPut,
            format!(r#"{{"key":"{k}","value":"{v}"}}"#),
        )
        .await
        .unwrap();
    }

    async fn get(p: &Arc<dyn Provider>, k: &str) -> String {
        let raw = p
            .call(Method::SecretGet, format!(r#"{{"key":"{k}"}}"#))
            .await
            .unwrap();
        serde_json::from_str(raw.get()).unwrap()
    }

    fn open(path: &Path, key: Option<SecretKey>) -> Result<Arc<dyn Provider>, String> {
        let mut config = Map::new();
        config.insert("path".into(), Value::String(path.display().to_string()));
        JsonSecretFactory { key }
            .create(Capability::Secret, &config)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn the_key_is_never_shown() {
        assert_eq!(
            format!("{:?}", key(HEX_KEY)),
            "SecretKey(from OPSORCH_SECRET_KEY, redacted)"
        );
    }

    #[tokio::test]
    async fn encrypted_round_trip_fresh_nonces_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, r#"{"plain":"CANARY-plain-value"}"#).unwrap();
        // A plain file loads with a key, and is encrypted from the next write.
        let p = open(&path, Some(key(HEX_KEY))).unwrap();
        assert_eq!(get(&p, "plain").await, "CANARY-plain-value");
        put(&p, "token", "CANARY-token-value").await;
        let first = fs::read(&path).unwrap();
        let text = String::from_utf8(first.clone()).unwrap();
        assert!(!text.contains("CANARY"), "{text}");
        let envelope: Value = serde_json::from_slice(&first).unwrap();
        assert_eq!(envelope[ENVELOPE_MARK], 1);
        assert_eq!(
            envelope.as_object().unwrap().keys().collect::<Vec<_>>(),
            ["ciphertext", "nonce", ENVELOPE_MARK]
        );
        let mode = fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        // Same content, new nonce and ciphertext on every write.
        put(&p, "token", "CANARY-token-value").await;
        let second: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_ne!(envelope["nonce"], second["nonce"]);
        assert_ne!(envelope["ciphertext"], second["ciphertext"]);

        // The right key reads it back.
        let again = open(&path, Some(key(HEX_KEY))).unwrap();
        assert_eq!(get(&again, "token").await, "CANARY-token-value");
        assert_eq!(get(&again, "plain").await, "CANARY-plain-value");

        // No key, a wrong key, an altered file: refused, nothing quoted.
        let err = open(&path, None).err().unwrap();
        assert!(err.starts_with(NO_KEY), "{err}");
        let other = "ff".repeat(32);
        let err = open(&path, Some(key(&other))).err().unwrap();
        assert_eq!(
            err,
            format!("{WRONG_KEY}: wrong key, or the file was altered")
        );
        let mut altered = second.clone();
        let mut ct = altered["ciphertext"].as_str().unwrap().to_owned();
        ct.replace_range(
            0..4,
            if ct.starts_with("AAAA") {
                "BBBB"
            } else {
                "AAAA"
            },
        );
        altered["ciphertext"] = Value::String(ct);
        fs::write(&path, altered.to_string()).unwrap();
        let err = open(&path, Some(key(HEX_KEY))).err().unwrap();
        assert!(err.starts_with(WRONG_KEY), "{err}");
        let mut future = second.clone();
        future[ENVELOPE_MARK] = Value::from(2);
        fs::write(&path, future.to_string()).unwrap();
        let err = open(&path, Some(key(HEX_KEY))).err().unwrap();
        assert!(err.contains("unsupported envelope version"), "{err}");
        fs::write(&path, r#"{"opsorch-encrypted":1,"nonce":"AAAA"}"#).unwrap();
        let err = open(&path, Some(key(HEX_KEY))).err().unwrap();
        assert!(err.starts_with(WRONG_KEY), "{err}");
    }

    /// Two stores on one file, as two hosts during a hot swap: each write
    /// starts from the file, under its lock, so neither loses the other's.
    #[tokio::test]
    async fn two_stores_on_one_file_lose_no_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, "{}").unwrap();
        let k = key("00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff");
        let old = open(&path, Some(k.clone())).unwrap();
        let new = open(&path, Some(k.clone())).unwrap();
        for i in 0..5 {
            put(&old, &format!("old-{i}"), "a").await;
            put(&new, &format!("new-{i}"), "b").await;
        }
        let reread = open(&path, Some(k)).unwrap();
        for i in 0..5 {
            assert_eq!(get(&reread, &format!("old-{i}")).await, "a");
            assert_eq!(get(&reread, &format!("new-{i}")).await, "b");
        }
        assert!(dir.path().join(".secrets.json.lock").exists());
    }

    /// Writes a temporary-shaped file holding a secret next to `path`.
    fn leave_temporary(dir: &Path, name: &str) -> PathBuf {
        let file = dir.join(name);
        fs::write(&file, "{\"token\":\"x\"}").unwrap();
        file
    }

    #[test]
    fn temporaries_left_by_writers_are_removed_when_no_write_is_under_way() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, "{}").unwrap();
        // Whatever pid the name carries (a dead writer, a reused pid, this
        // very process): with the lock free, no write owns it.
        let left = [
            leave_temporary(dir.path(), ".secrets.json.4294967295.3.tmp"),
            leave_temporary(dir.path(), ".secrets.json.1.Ab9.tmp"),
            leave_temporary(
                dir.path(),
                &format!(".secrets.json.{}.9.tmp", std::process::id()),
            ),
        ];
        let unrelated = leave_temporary(dir.path(), ".other.json.4294967295.3.tmp");
        let odd = [
            // Not names the writer makes.
            leave_temporary(dir.path(), ".secrets.json.4294967295.not-ours.tmp"),
            leave_temporary(dir.path(), ".secrets.json.x1.3.tmp"),
            leave_temporary(dir.path(), ".secrets.json.1.3.4.tmp"),
            leave_temporary(dir.path(), ".secrets.json.1..tmp"),
        ];
        JsonSecretStore::open_with(path, None).unwrap();
        for f in &left {
            assert!(!f.exists(), "{} was left", f.display());
        }
        for f in odd.iter().chain([&unrelated]) {
            assert!(f.exists(), "{} was removed", f.display());
        }
    }

    #[test]
    fn temporaries_are_kept_while_another_writer_holds_the_lock() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, "{}").unwrap();
        let temporary = leave_temporary(dir.path(), ".secrets.json.1.3.tmp");
        // Another store's put under way: it holds the lock for the whole
        // life of its temporary file. Opening neither waits nor removes it.
        let writing = lock_file(&path).unwrap();
        JsonSecretStore::open_with(path.clone(), None).unwrap();
        assert!(temporary.exists());
        drop(writing);
        JsonSecretStore::open_with(path, None).unwrap();
        assert!(!temporary.exists());
    }

    #[test]
    fn a_bare_file_name_lives_in_the_current_directory() {
        assert_eq!(parent_dir(Path::new("secrets.json")), PathBuf::from("."));
        assert_eq!(parent_dir(Path::new("/etc/s.json")), PathBuf::from("/etc"));
    }

    #[test]
    fn only_group_or_other_bits_make_a_file_open_to_others() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, "{}").unwrap();
        for (mode, open) in [
            (0o600, None),
            (0o400, None),
            (0o700, None),
            (0o640, Some(0o640)),
            (0o604, Some(0o604)),
        ] {
            set_mode(&path, mode).unwrap();
            assert_eq!(open_to_others(&path), open, "mode {mode:03o}");
        }
    }

    fn create(config: Value, key: Option<SecretKey>) -> Result<Arc<dyn Provider>, BuildError> {
        JsonSecretFactory { key }.create(Capability::Secret, config.as_object().unwrap())
    }

    #[test]
    fn an_empty_path_is_a_config_error() {
        match create(serde_json::json!({"path": ""}), None) {
            Err(BuildError::Invalid(why)) => assert!(why.contains("\"path\""), "{why}"),
            other => panic!("expected a config error, got {:?}", other.err()),
        }
    }

    #[tokio::test]
    async fn a_key_fault_blames_the_key_variable_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, "{}").unwrap();
        let p = open(&path, Some(key(HEX_KEY))).unwrap();
        put(&p, "token", "x").await;
        let config = serde_json::json!({"path": path.display().to_string()});
        // No key for an encrypted file: the key variable is at fault.
        match create(config.clone(), None) {
            Err(BuildError::Key { variable, .. }) => assert_eq!(variable, KEY_VAR),
            other => panic!("expected a key error, got {:?}", other.err()),
        }
        // A wrong key from the key file: that variable is named.
        let wrong =
            SecretKey::new(&KeyMaterial::parse(&HEX_KEY.replace('0', "f"), KEY_FILE_VAR).unwrap());
        match create(config, Some(wrong)) {
            Err(BuildError::Key { variable, .. }) => assert_eq!(variable, KEY_FILE_VAR),
            other => panic!("expected a key error, got {:?}", other.err()),
        }
    }

    #[tokio::test]
    async fn a_put_after_the_file_was_removed_writes_it_anew() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, r#"{"old":"1"}"#).unwrap();
        let p = open(&path, None).unwrap();
        fs::remove_file(&path).unwrap();
        put(&p, "new", "2").await;
        let on_disk: Value = serde_json::from_slice(&fs::read(&path).unwrap()).unwrap();
        assert_eq!(on_disk, serde_json::json!({"new": "2"}));
    }

    #[tokio::test]
    async fn a_put_that_cannot_re_read_the_file_says_so_and_writes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("secrets.json");
        fs::write(&path, r#"{"old":"1"}"#).unwrap();
        let p = open(&path, None).unwrap();
        // The file turns into a directory: reading it fails, and not with
        // "not found", so the store must not start from an empty map.
        fs::remove_file(&path).unwrap();
        fs::create_dir(&path).unwrap();
        let err = p
            .call(
                Method::SecretPut,
                r#"{"key":"new","value":"2"}"#.to_string(),
            )
            .await
            .unwrap_err();
        assert!(
            err.to_string().contains("cannot re-read the secret file"),
            "{err}"
        );
        assert!(path.is_dir());
    }
}

/// The secret file decoder's and the key text's properties (see
/// `crate::fuzz`).
#[cfg(test)]
mod fuzz {
    use proptest::prelude::*;
    use serde_json::Value;

    use super::{decode_file, is_envelope, SecretKey, KEY_VAR};
    use crate::fuzz::{json_value, run};
    use crate::settings::KeyMaterial;

    #[test]
    fn secret_files_and_keys_never_panic() {
        let key = SecretKey::new(&KeyMaterial::parse(&"ab".repeat(32), KEY_VAR).unwrap());
        let sealed: Value = serde_json::from_slice(&key.seal(br#"{"a":"b"}"#).unwrap()).unwrap();
        let file = prop_oneof![
            prop::collection::vec(any::<u8>(), 0..200),
            json_value().prop_map(|v| v.to_string().into_bytes()),
            (json_value(), json_value(), json_value()).prop_map(|(a, b, c)| {
                serde_json::json!({"opsorch-encrypted": a, "nonce": b, "ciphertext": c})
                    .to_string()
                    .into_bytes()
            }),
            (".{0,24}", "[A-Za-z0-9+/=]{0,64}").prop_map(|(n, c)| {
                serde_json::json!({"opsorch-encrypted": 1, "nonce": n, "ciphertext": c})
                    .to_string()
                    .into_bytes()
            }),
            // The real envelope with one character of the ciphertext changed.
            (any::<prop::sample::Index>(), "[A-Za-z0-9+/]").prop_map({
                let sealed = sealed.clone();
                move |(at, c)| {
                    let mut env = sealed.clone();
                    let mut text = env["ciphertext"].as_str().unwrap().to_owned();
                    let i = at.index(text.len().saturating_sub(2).max(1));
                    text.replace_range(i..i + 1, &c);
                    env["ciphertext"] = Value::String(text);
                    env.to_string().into_bytes()
                }
            }),
        ];
        let original = serde_json::to_vec(&sealed).unwrap();
        run("secret_file", file, |bytes| {
            let with_key = decode_file(&bytes, Some(&key));
            let _ = decode_file(&bytes, None);
            // Only the untouched envelope decrypts.
            if with_key.is_ok() && bytes != original {
                let value: Value = serde_json::from_slice(&bytes).unwrap();
                prop_assert!(!is_envelope(&value) || value == sealed);
            }
            Ok(())
        });
        run("secret_key_text", ".{0,90}", |text| {
            if let Err(e) = KeyMaterial::parse(&text, KEY_VAR) {
                // One fixed reason: the input is never quoted.
                prop_assert_eq!(
                    e.to_string(),
                    "must be 64 hex characters or the base64 of 32 bytes"
                );
            }
            Ok(())
        });
    }
}
