//! The built-in `json` secret provider: a JSON file of key → string.
//!
//! Config `{"path": "<file>"}`. The file is read once at creation (missing or
//! unparsable → error, so the host refuses to start) and rewritten on every
//! `secret.put`: the new content goes to a temporary file in the same
//! directory (mode 0600), is fsynced, renamed over the old file, and the
//! directory is fsynced, so a crash leaves either the old or the new file,
//! never a truncated one. Puts are serialised inside the store so that
//! concurrent writers cannot lose each other's updates.

use std::fs::{self, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};

use opsorch_plugin_api::methods::{Capability, Method};
use opsorch_plugin_api::protocol::{SecretGetPayload, SecretPutPayload};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

use crate::provider::{Provider, ProviderError, ProviderFactory, ProviderFuture};

/// The registered name of this provider.
pub const NAME: &str = "json";

/// Builds [`JsonSecretStore`]s from `{"path": …}`.
pub struct JsonSecretFactory;

impl ProviderFactory for JsonSecretFactory {
    fn create(
        &self,
        capability: Capability,
        config: &Map<String, Value>,
    ) -> Result<Arc<dyn Provider>, String> {
        if capability != Capability::Secret {
            return Err(format!("the json provider cannot serve {capability}"));
        }
        let path = match config.get("path") {
            Some(Value::String(p)) if !p.is_empty() => PathBuf::from(p),
            _ => return Err("config needs a \"path\" string".into()),
        };
        Ok(Arc::new(JsonSecretStore::open(path)?))
    }
}

/// A secret store backed by one JSON file.
pub struct JsonSecretStore {
    inner: Arc<StoreInner>,
}

struct StoreInner {
    path: PathBuf,
    /// The file's content, as last written. Locked only to read or swap it,
    /// never across file I/O, so gets do not wait for a disk write.
    entries: RwLock<Map<String, Value>>,
    /// Held for the whole of a put (read, write file, swap) so that
    /// concurrent puts apply one after another and none is lost.
    writer: Mutex<()>,
}

impl JsonSecretStore {
    /// Reads the file. Reasons never quote its content.
    pub fn open(path: PathBuf) -> Result<Self, String> {
        let text = fs::read(&path).map_err(|e| format!("cannot read the secret file: {e}"))?;
        let entries = match serde_json::from_slice::<Value>(&text) {
            Ok(Value::Object(map)) => map,
            Ok(_) => return Err("the secret file is not a JSON object".into()),
            Err(e) => {
                return Err(format!(
                    "the secret file is not valid JSON (line {} column {})",
                    e.line(),
                    e.column()
                ))
            }
        };
        Ok(JsonSecretStore {
            inner: Arc::new(StoreInner {
                path,
                entries: RwLock::new(entries),
                writer: Mutex::new(()),
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
        let mut next = read(&inner.entries).clone();
        next.insert(req.key, Value::String(req.value));
        let bytes = serde_json::to_vec_pretty(&next)
            .map_err(|e| ProviderError::new("", format!("cannot encode secrets: {e}")))?;
        write_atomically(&inner.path, &bytes)
            .map_err(|e| ProviderError::new("", format!("cannot write the secret file: {e}")))?;
        *inner.entries.write().unwrap_or_else(|p| p.into_inner()) = next;
        Ok(())
    }
}

impl Provider for JsonSecretStore {
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_> {
        Box::pin(async move {
            match method {
                Method::SecretGet => self.get(&payload),
                Method::SecretPut => {
                    let inner = Arc::clone(&self.inner);
                    tokio::task::spawn_blocking(move || JsonSecretStore::put(&inner, &payload))
                        .await
                        .map_err(|e| {
                            ProviderError::new("", format!("secret write failed: {e}"))
                        })??;
                    Ok(RawValue::NULL.to_owned())
                }
                other => Err(ProviderError::new(
                    "bad_request",
                    format!("the json secret provider does not support {other}"),
                )),
            }
        })
    }
}

fn read<T>(lock: &RwLock<T>) -> std::sync::RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn json_string(s: &str) -> Result<Box<RawValue>, ProviderError> {
    serde_json::value::to_raw_value(s).map_err(|e| ProviderError::new("", e.to_string()))
}

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Replaces `path` with `bytes` so that a crash at any point leaves either the
/// old or the new content.
fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let file_name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "secrets".into());
    let temp = dir.join(format!(
        ".{file_name}.{}.{}.tmp",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let result = (|| {
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        drop(file);
        fs::rename(&temp, path)?;
        File::open(&dir)?.sync_all()
    })();
    if result.is_err() {
        let _ = fs::remove_file(&temp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn store(dir: &Path, content: &str) -> (PathBuf, Arc<dyn Provider>) {
        let path = dir.join("secrets.json");
        fs::write(&path, content).unwrap();
        let mut config = Map::new();
        config.insert("path".into(), Value::String(path.display().to_string()));
        let provider = JsonSecretFactory
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
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["secrets.json"]);
        // A new store over the same file sees the value.
        let (_, again) = {
            let mut config = Map::new();
            config.insert("path".into(), Value::String(path.display().to_string()));
            (
                (),
                JsonSecretFactory
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
        let err = JsonSecretFactory
            .create(Capability::Secret, &config)
            .err()
            .unwrap();
        assert!(err.starts_with("cannot read the secret file"), "{err}");

        let bad = dir.path().join("bad.json");
        fs::write(&bad, "{\"token\": hunter2").unwrap();
        config.insert("path".into(), Value::String(bad.display().to_string()));
        let err = JsonSecretFactory
            .create(Capability::Secret, &config)
            .err()
            .unwrap();
        assert!(
            err.contains("not valid JSON") && !err.contains("hunter2"),
            "{err}"
        );

        fs::write(&bad, "[\"hunter2\"]").unwrap();
        let err = JsonSecretFactory
            .create(Capability::Secret, &config)
            .err()
            .unwrap();
        assert_eq!(err, "the secret file is not a JSON object");

        let err = JsonSecretFactory
            .create(Capability::Secret, &Map::new())
            .err()
            .unwrap();
        assert!(err.contains("path"));
    }
}
