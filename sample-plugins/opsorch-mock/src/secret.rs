//! `secret`: an in-memory key-value store, empty at start. Enough for the
//! host to persist provider configs during a demo; nothing survives a restart.

use std::collections::HashMap;
use std::sync::RwLock;

use opsorch_plugin_api::{Error, Result, SecretProvider};

use crate::filter::{read, write};

#[derive(Default)]
pub struct MockSecrets {
    values: RwLock<HashMap<String, String>>,
}

impl SecretProvider for MockSecrets {
    fn get(&self, key: &str) -> Result<String> {
        // The message names the key but never the value.
        read(&self.values)
            .get(key)
            .cloned()
            .ok_or_else(|| Error::not_found(format!("secret {key} not found")))
    }

    fn put(&self, key: &str, value: &str) -> Result<()> {
        if key.is_empty() {
            return Err(Error::bad_request("key is required"));
        }
        write(&self.values).insert(key.to_string(), value.to_string());
        Ok(())
    }
}
