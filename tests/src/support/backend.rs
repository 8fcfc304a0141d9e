//! The storage a behaviour test runs on: memory (commits apply at once) or SQLite in a fresh
//! directory (commits are in flight while later turns run, as in production), and
//! [`on_each_backend!`](crate::on_each_backend) to run one test body on both.

use std::sync::Arc;

use rivet_core::storage::memory::MemoryStorage;
use rivet_core::{Registry, RegistryBuilder};
use tempfile::TempDir;

/// Where a test's registry keeps its actors. A SQLite backend owns its directory, which is
/// removed when the backend is dropped, so keep it alive as long as the registry.
///
/// A backend is one storage: building a registry on it again, once the first one has shut
/// down, is a restart of the process, on both backends (the memory one keeps its storage for
/// that, as a process would keep nothing but a test can pretend).
#[derive(Debug)]
pub enum Backend {
    /// [`MemoryStorage`], the storage of [`RegistryBuilder::in_memory`], kept across builds.
    Memory(Arc<MemoryStorage>),
    /// [`RegistryBuilder::data_dir`] in a temporary directory, with the default durability.
    Sqlite(TempDir),
}

impl Backend {
    /// The in-memory backend.
    pub fn memory() -> Self {
        Self::Memory(Arc::new(MemoryStorage::new()))
    }

    /// A SQLite backend in a new temporary directory.
    pub fn sqlite() -> Self {
        Self::Sqlite(tempfile::tempdir().expect("a temporary directory"))
    }

    /// `base` suffixed with the backend's name. The two runs of a test share the process, and
    /// with it the hook log and the named semaphores, which are keyed by actor key or name: a
    /// test that uses those gives its keys through this.
    pub fn key(&self, base: &str) -> String {
        match self {
            Self::Memory(_) => format!("{base}-memory"),
            Self::Sqlite(_) => format!("{base}-sqlite"),
        }
    }

    /// Points `builder` at this backend.
    pub fn apply(&self, builder: RegistryBuilder) -> RegistryBuilder {
        match self {
            Self::Memory(storage) => builder.storage(Arc::clone(storage) as _),
            Self::Sqlite(dir) => builder.data_dir(dir.path()),
        }
    }

    /// Builds `builder` on this backend.
    pub fn build(&self, builder: RegistryBuilder) -> Registry {
        self.apply(builder).build().expect("registry")
    }
}

/// Runs each named `async fn(Backend)` as two tests, `<name>::memory` and `<name>::sqlite`:
///
/// ```ignore
/// async fn rollback(backend: Backend) { /* ... */ }
/// on_each_backend!(rollback);
/// ```
#[macro_export]
macro_rules! on_each_backend {
    ($($name:ident),+ $(,)?) => {$(
        mod $name {
            #[tokio::test]
            async fn memory() {
                super::$name($crate::Backend::memory()).await
            }

            #[tokio::test]
            async fn sqlite() {
                super::$name($crate::Backend::sqlite()).await
            }
        }
    )+};
}
