//! Providers: what serves a capability, however it is loaded.
//!
//! A [`Provider`] answers provider methods (CONTRACT §4) with raw JSON. It may
//! be built in (the `json` secret store), come from a stable-ABI library or be
//! a stdio plugin process; the host does not care. Named constructors live in
//! the [`ProviderRegistry`], and the provider in effect for a capability lives
//! in a [`ProviderSlot`], which is swapped by `POST /providers/{cap}` without
//! blocking calls in flight.

use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use opsorch_plugin_api::methods::{Capability, Method};
use serde_json::value::RawValue;
use serde_json::{Map, Value};

/// The future a provider call returns.
pub type ProviderFuture<'a> =
    Pin<Box<dyn Future<Output = Result<Box<RawValue>, ProviderError>> + Send + 'a>>;

/// Something that serves the methods of one capability.
///
/// Implementations that block (a library call, a file write) move that work
/// off the async workers themselves (the library provider's call pool,
/// `spawn_blocking`); the host only awaits the future. Calls may run
/// concurrently.
pub trait Provider: Send + Sync + 'static {
    /// `payload` is the method's JSON payload (CONTRACT §3 shapes). Returns
    /// the raw JSON result.
    fn call(&self, method: Method, payload: String) -> ProviderFuture<'_>;
}

/// An error a provider reports. `code` is empty when the provider gave none.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    pub code: String,
    pub message: String,
}

impl ProviderError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ProviderError {
            code: code.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.code.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.code, self.message)
        }
    }
}

impl std::error::Error for ProviderError {}

/// Builds providers of a registered name from their configuration.
pub trait ProviderFactory: Send + Sync + 'static {
    /// Errors are shown to operators and API clients: they must not quote
    /// configuration values.
    fn create(
        &self,
        capability: Capability,
        config: &Map<String, Value>,
    ) -> Result<Arc<dyn Provider>, String>;
}

/// A name was registered twice for the same capability.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{capability} provider `{name}` is already registered")]
pub struct DuplicateProvider {
    pub capability: Capability,
    pub name: String,
}

/// The named provider constructors known to this process, per capability.
/// Names are case-insensitive (stored lower-cased).
#[derive(Default, Clone)]
pub struct ProviderRegistry {
    factories: BTreeMap<(Capability, String), Arc<dyn ProviderFactory>>,
}

impl ProviderRegistry {
    pub fn new() -> Self {
        Self::default()
    }

    /// Registers `name` for `capability`; a name already taken is an error.
    pub fn register(
        &mut self,
        capability: Capability,
        name: &str,
        factory: Arc<dyn ProviderFactory>,
    ) -> Result<(), DuplicateProvider> {
        let key = (capability, name.to_ascii_lowercase());
        if self.factories.contains_key(&key) {
            return Err(DuplicateProvider {
                capability,
                name: key.1,
            });
        }
        self.factories.insert(key, factory);
        Ok(())
    }

    /// The factory registered as `name` (any case) for `capability`.
    pub fn get(&self, capability: Capability, name: &str) -> Option<Arc<dyn ProviderFactory>> {
        self.factories
            .get(&(capability, name.to_ascii_lowercase()))
            .cloned()
    }

    /// The registered names for `capability`, sorted.
    pub fn names(&self, capability: Capability) -> Vec<String> {
        // BTreeMap order is (capability, name), so this is already sorted.
        self.factories
            .keys()
            .filter(|(cap, _)| *cap == capability)
            .map(|(_, name)| name.clone())
            .collect()
    }
}

impl fmt::Debug for ProviderRegistry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_set().entries(self.factories.keys()).finish()
    }
}

/// The provider currently in effect for one capability.
///
/// Readers clone the `Arc` out in a short critical section and call it with
/// no lock held, so calls run concurrently and a swap never waits for one.
#[derive(Default)]
pub struct ProviderSlot {
    current: RwLock<Option<Arc<dyn Provider>>>,
}

impl ProviderSlot {
    pub fn get(&self) -> Option<Arc<dyn Provider>> {
        // A poisoned lock only means a writer panicked between two plain
        // assignments; the value is still whole.
        match self.current.read() {
            Ok(guard) => guard.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    /// Puts `provider` in effect; calls already running keep the old one.
    pub fn set(&self, provider: Option<Arc<dyn Provider>>) {
        let previous = {
            let mut guard = match self.current.write() {
                Ok(guard) => guard,
                Err(poisoned) => poisoned.into_inner(),
            };
            std::mem::replace(&mut *guard, provider)
        };
        // Dropped outside the lock: a stdio provider's drop may do real work.
        drop(previous);
    }
}

/// Calls `provider` and normalises the result for the method's kind: a
/// `null` result becomes the kind's empty value (`[]` for lists).
pub async fn call_normalised(
    provider: &dyn Provider,
    method: Method,
    payload: String,
) -> Result<Box<RawValue>, ProviderError> {
    let raw = provider.call(method, payload).await?;
    if raw.get().trim() == "null" {
        let empty = method.result_kind().empty_json();
        return RawValue::from_string(empty.to_owned())
            .map_err(|e| ProviderError::new("", format!("internal: {e}")));
    }
    Ok(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Null;
    impl Provider for Null {
        fn call(&self, _: Method, _: String) -> ProviderFuture<'_> {
            Box::pin(async { Ok(RawValue::from_string("null".into()).unwrap()) })
        }
    }
    struct NullFactory;
    impl ProviderFactory for NullFactory {
        fn create(
            &self,
            _: Capability,
            _: &Map<String, Value>,
        ) -> Result<Arc<dyn Provider>, String> {
            Ok(Arc::new(Null))
        }
    }

    #[test]
    fn registry_is_case_insensitive_sorted_and_rejects_duplicates() {
        let mut reg = ProviderRegistry::new();
        reg.register(Capability::Incident, "Zeta", Arc::new(NullFactory))
            .unwrap();
        reg.register(Capability::Incident, "alpha", Arc::new(NullFactory))
            .unwrap();
        reg.register(Capability::Log, "beta", Arc::new(NullFactory))
            .unwrap();
        let dup = reg
            .register(Capability::Incident, "ZETA", Arc::new(NullFactory))
            .unwrap_err();
        assert_eq!(dup.name, "zeta");
        assert_eq!(reg.names(Capability::Incident), ["alpha", "zeta"]);
        assert_eq!(reg.names(Capability::Log), ["beta"]);
        assert!(reg.names(Capability::Team).is_empty());
        assert!(reg.get(Capability::Incident, "ALPHA").is_some());
        assert!(reg.get(Capability::Log, "alpha").is_none());
    }

    #[tokio::test]
    async fn null_results_become_empty_values() {
        let list = call_normalised(&Null, Method::IncidentQuery, "{}".into())
            .await
            .unwrap();
        assert_eq!(list.get(), "[]");
        let obj = call_normalised(&Null, Method::IncidentGet, "{}".into())
            .await
            .unwrap();
        assert_eq!(obj.get(), "{}");
    }

    #[test]
    fn slot_swaps() {
        let slot = ProviderSlot::default();
        assert!(slot.get().is_none());
        slot.set(Some(Arc::new(Null)));
        assert!(slot.get().is_some());
        slot.set(None);
        assert!(slot.get().is_none());
    }
}
