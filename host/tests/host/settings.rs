//! The configuration table in README.md and the code cannot drift: every
//! `OPSORCH_*` variable the host reads is documented there, and every
//! variable documented there is read.

use std::cell::RefCell;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use opsorch::{Env, Settings};
use opsorch_plugin_api::methods::Capability;

/// An empty environment that remembers every name asked for.
#[derive(Default)]
struct Recording(RefCell<BTreeSet<String>>);

impl Env for Recording {
    fn raw(&self, name: &str) -> Option<String> {
        self.0.borrow_mut().insert(name.to_owned());
        None
    }
}

/// The `OPSORCH_*` variables `Settings::from_env`, the one place the host
/// reads its configuration, asks for.
fn read_by_the_code() -> BTreeSet<String> {
    let env = Recording::default();
    Settings::from_env(&env).unwrap();
    env.0
        .into_inner()
        .into_iter()
        .filter(|name| name.starts_with("OPSORCH_"))
        .collect()
}

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The variables named in the first column of README.md's configuration
/// table: `<CAP>` stands for every capability, and a `_SUFFIX` after a full
/// name replaces that name's last part (`OPSORCH_SECRET_PROVIDER` /
/// `_CONFIG`).
fn documented() -> BTreeSet<String> {
    let readme = std::fs::read_to_string(repo().join("README.md")).unwrap();
    let section = readme
        .split("\n## Configuration")
        .nth(1)
        .expect("README.md has a Configuration section");
    let section = section.split("\n## ").next().unwrap();
    let mut names = BTreeSet::new();
    for row in section.lines().filter(|l| l.starts_with("| `")) {
        let first_cell = row.split('|').nth(1).unwrap();
        let mut stem = String::new();
        for token in first_cell.split('`').skip(1).step_by(2) {
            let name = if let Some(suffix) = token.strip_prefix('_') {
                format!("{stem}_{suffix}")
            } else {
                token.to_owned()
            };
            if let Some(at) = name.rfind('_') {
                stem = name[..at].to_owned();
            }
            if !name.starts_with("OPSORCH_") {
                continue;
            }
            if name.contains("<CAP>") {
                for cap in Capability::ALL {
                    names.insert(name.replace("<CAP>", cap.env_key()));
                }
            } else {
                names.insert(name);
            }
        }
    }
    names
}

/// Every `"OPSORCH_…"` string literal in `host/src`, wherever it is.
fn named_in_the_source() -> BTreeSet<String> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, out);
            } else if path.extension().is_some_and(|e| e == "rs") {
                out.push(path);
            }
        }
    }
    let mut files = Vec::new();
    walk(&repo().join("host/src"), &mut files);
    let mut names = BTreeSet::new();
    for file in files {
        let text = std::fs::read_to_string(&file).unwrap();
        for piece in text.split("\"OPSORCH_").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || *c == '_')
                .collect();
            // Only whole names: `"OPSORCH_{}_{}"` builds one from parts, and
            // `"OPSORCH_"` alone is a prefix.
            if !name.is_empty() && piece[name.len()..].starts_with('"') {
                names.insert(format!("OPSORCH_{name}"));
            }
        }
    }
    names
}

#[test]
fn every_variable_read_is_documented_and_every_documented_one_is_read() {
    let read = read_by_the_code();
    let documented = documented();
    // Sanity: both sides found the bulk of the table.
    assert!(read.len() > 40, "{read:?}");
    assert!(
        documented.contains("OPSORCH_INCIDENT_PROVIDER"),
        "{documented:?}"
    );
    let undocumented: Vec<_> = read.difference(&documented).collect();
    assert!(
        undocumented.is_empty(),
        "read by the code but not in README.md's configuration table: {undocumented:?}"
    );
    let unread: Vec<_> = documented.difference(&read).collect();
    assert!(
        unread.is_empty(),
        "in README.md's configuration table but never read: {unread:?}"
    );
}

#[test]
fn every_variable_named_in_the_source_is_documented() {
    let documented = documented();
    let named = named_in_the_source();
    assert!(named.contains("OPSORCH_ADDR"), "{named:?}");
    let stray: Vec<_> = named.difference(&documented).collect();
    assert!(
        stray.is_empty(),
        "named in host/src but not in README.md's configuration table: {stray:?}"
    );
}
