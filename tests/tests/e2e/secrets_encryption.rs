//! Encryption at rest of the json secret file, through the real binary:
//! a plain file is taken over and encrypted on the next write, the right
//! key (inline or from a file) reads it back across a restart, and every
//! wrong setup refuses start-up with one line naming the variable and never
//! quoting the key.

use opsorch_e2e::{Host, Started, TempDir};
use serde_json::{json, Value};

const KEY: &str = "00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
/// The same 32 bytes as base64.
const KEY_B64: &str = "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=";
const OTHER_KEY: &str = "ffeeddccbbaa99887766554433221100ffeeddccbbaa99887766554433221100";

struct Setup {
    libs: TempDir,
    dir: TempDir,
    secret_config: String,
}

impl Setup {
    fn new(content: &str) -> Setup {
        let libs = TempDir::with_libraries("enc-libs", &["opsorch_mock"]);
        let dir = TempDir::new("enc");
        let file = dir.path().join("secrets.json");
        std::fs::write(&file, content).unwrap();
        let secret_config = json!({ "path": file.display().to_string() }).to_string();
        Setup {
            libs,
            dir,
            secret_config,
        }
    }

    fn file(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("secrets.json")).unwrap()
    }

    fn env<'a>(&'a self, extra: &[(&'a str, &'a str)]) -> Vec<(&'a str, &'a str)> {
        let mut env = vec![
            ("OPSORCH_PLUGIN_DIR", self.libs.path().to_str().unwrap()),
            ("OPSORCH_SECRET_PROVIDER", "json"),
            ("OPSORCH_SECRET_CONFIG", self.secret_config.as_str()),
        ];
        env.extend_from_slice(extra);
        env
    }

    /// The one-line refusal of a start with `extra`.
    fn refusal(&self, extra: &[(&str, &str)]) -> String {
        match Host::try_start(&self.env(extra)) {
            Started::Running(_) => panic!("started despite {extra:?}"),
            Started::Exited(code, stderr) => {
                assert_eq!(code, Some(1), "{stderr}");
                let lines: Vec<&str> = stderr
                    .lines()
                    .filter(|l| l.starts_with("opsorch: "))
                    .collect();
                assert_eq!(lines.len(), 1, "{stderr}");
                for secret in [KEY, KEY_B64, OTHER_KEY, "hunter2"] {
                    assert!(!stderr.contains(secret), "the key is shown: {stderr}");
                }
                lines[0].to_owned()
            }
        }
    }
}

#[test]
fn plain_file_is_encrypted_on_next_write_and_read_back_after_restart() {
    let setup = Setup::new(r#"{"db-password":"plain-secret-value"}"#);
    let host = Host::start(&setup.env(&[("OPSORCH_SECRET_KEY", KEY)]));
    // Still plain until something is written.
    assert!(setup.file().contains("plain-secret-value"));
    let body = json!({"provider": "mock", "config": {"seed": 3, "token": "stored-token-value"}});
    let reply = host.post("/providers/incident", &body.to_string());
    assert_eq!(reply.status, 200, "{}", reply.text());
    drop(host);

    let text = setup.file();
    let envelope: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(envelope["opsorch-encrypted"], 1);
    assert_eq!(envelope.as_object().unwrap().len(), 3, "{text}");
    for clear in [
        "plain-secret-value",
        "stored-token-value",
        "providers/incident",
    ] {
        assert!(!text.contains(clear), "{clear} in clear: {text}");
    }

    // The same key as base64 reads it back; the stored choice is in effect.
    let host = Host::start(&setup.env(&[("OPSORCH_SECRET_KEY", KEY_B64)]));
    let reply = host.post("/incidents/query", r#"{"limit":1}"#);
    assert_eq!(reply.status, 200, "{}", reply.text());
    drop(host);

    // And from a key file.
    let key_file = setup.dir.path().join("key");
    std::fs::write(&key_file, format!("{KEY}\n")).unwrap();
    owner_only(&key_file);
    let host = Host::start(&setup.env(&[("OPSORCH_SECRET_KEY_FILE", key_file.to_str().unwrap())]));
    let reply = host.post("/incidents/query", r#"{"limit":1}"#);
    assert_eq!(reply.status, 200, "{}", reply.text());
}

#[test]
fn wrong_setups_refuse_start_up_naming_the_variable() {
    let setup = Setup::new("{}");
    // Encrypt the file first.
    let host = Host::start(&setup.env(&[("OPSORCH_SECRET_KEY", KEY)]));
    let body = json!({"provider": "mock", "config": {"seed": 1}});
    assert_eq!(host.post("/providers/team", &body.to_string()).status, 200);
    drop(host);
    assert!(setup.file().contains("opsorch-encrypted"));

    let line = setup.refusal(&[("OPSORCH_SECRET_KEY", OTHER_KEY)]);
    assert_eq!(
        line,
        "opsorch: OPSORCH_SECRET_KEY: cannot decrypt the secret file: wrong key, or the file was altered"
    );
    let line = setup.refusal(&[]);
    assert!(
        line.starts_with("opsorch: OPSORCH_SECRET_KEY: the secret file is encrypted"),
        "{line}"
    );
    let line = setup.refusal(&[("OPSORCH_SECRET_KEY", "hunter2")]);
    assert_eq!(
        line,
        "opsorch: OPSORCH_SECRET_KEY: must be 64 hex characters or the base64 of 32 bytes"
    );
    let wrong_file = setup.dir.path().join("wrong-key");
    std::fs::write(&wrong_file, OTHER_KEY).unwrap();
    owner_only(&wrong_file);
    let line = setup.refusal(&[("OPSORCH_SECRET_KEY_FILE", wrong_file.to_str().unwrap())]);
    assert!(
        line.starts_with("opsorch: OPSORCH_SECRET_KEY_FILE: cannot decrypt"),
        "{line}"
    );
    let line = setup.refusal(&[
        ("OPSORCH_SECRET_KEY", KEY),
        ("OPSORCH_SECRET_KEY_FILE", wrong_file.to_str().unwrap()),
    ]);
    assert!(
        line.starts_with("opsorch: OPSORCH_SECRET_KEY_FILE: set"),
        "{line}"
    );
    let line = setup.refusal(&[("OPSORCH_SECRET_KEY_FILE", "/nonexistent/key")]);
    assert!(
        line.starts_with("opsorch: OPSORCH_SECRET_KEY_FILE: cannot read the key file"),
        "{line}"
    );
    // An altered file is refused like a wrong key, never half-read.
    let mut envelope: Value = serde_json::from_str(&setup.file()).unwrap();
    let ciphertext = envelope["ciphertext"].as_str().unwrap().to_owned();
    let flipped = if ciphertext.starts_with('A') {
        "B"
    } else {
        "A"
    };
    envelope["ciphertext"] = Value::String(format!("{flipped}{}", &ciphertext[1..]));
    std::fs::write(setup.dir.path().join("secrets.json"), envelope.to_string()).unwrap();
    let line = setup.refusal(&[("OPSORCH_SECRET_KEY", KEY)]);
    assert!(line.contains("cannot decrypt the secret file"), "{line}");
}

#[test]
fn a_key_without_the_json_store_is_warned_about() {
    let mut host = Host::start(&[("OPSORCH_SECRET_KEY", KEY)]);
    let mut log = String::new();
    let seen = (0..60).any(|_| {
        log = host.stderr();
        let found = log.contains("OPSORCH_SECRET_KEY is set but");
        if !found {
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        found
    });
    assert!(seen, "{log}");
    assert!(!log.contains(KEY));
}

/// Key files must be readable by their owner only, or start-up is refused.
fn owner_only(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600)).unwrap();
}
