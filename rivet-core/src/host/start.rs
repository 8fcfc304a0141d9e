//! Waking an activation: its state (loaded, or created from its input), vars, database,
//! queue and schedules, then `#[on_create]` (once) and `#[on_wake]`.

use std::sync::Arc;

use super::queue::DurableQueue;
use super::turn::decode_state;
use super::{Host, OutputGate};
use crate::actor::{Actor, Hook};
use crate::context::{CreateCx, Cx};
use crate::error::Error;
use crate::kv::Kv;
use crate::lifecycle::LifecycleKind;
use crate::runtime::{ActorIdentity, ActorRuntime};
use crate::schedule::{Entry, Schedules};
use crate::storage::{ActorRecord, keys};
use crate::writes::Stores;

impl<A: Actor> Host<A> {
    /// Starts an activation of `record`. A new actor that fails to initialize is forgotten, so
    /// that a later create can retry.
    pub(super) async fn start(
        runtime: &Arc<dyn ActorRuntime>,
        record: &ActorRecord,
        generation: u64,
    ) -> Result<Self, Error> {
        let started = std::time::Instant::now();
        let metrics = runtime.metrics().actor(&record.name);
        let storage = runtime.storage();
        let identity = Arc::new(ActorIdentity::new(record, runtime));
        let create_cx = CreateCx::new(Arc::clone(&identity));
        let stored = storage.get(record.storage_id, keys::STATE).await?;
        let vars = A::create_vars(&create_cx).await?;
        let (state, fresh) = match &stored {
            Some(bytes) => (decode_state::<A>(bytes)?, false),
            None => {
                let input = crate::actor::decode_input::<A>(record.input.as_deref())?;
                match A::create(&create_cx, input).await {
                    Ok(state) => (state, true),
                    Err(error) => {
                        storage.destroy(record.storage_id).await?;
                        return Err(error);
                    }
                }
            }
        };
        let kv = Kv::new(Arc::clone(storage), record.storage_id);
        let mut host = Self {
            runtime: Arc::clone(runtime),
            record: record.clone(),
            generation,
            state,
            cx: Cx::new(identity, vars, Stores::new(kv)),
            committed_state: stored.map(|b| b.to_vec()).unwrap_or_default(),
            gate: OutputGate::new(
                Arc::clone(storage),
                record.storage_id,
                metrics.commits.clone(),
            ),
            queue: DurableQueue::new(A::queue_has_handler, runtime.config().queue_memory.clone()),
            stop: None,
            pending_disconnects: Vec::new(),
            destroy_waiters: Vec::new(),
            run_loop: None,
            metrics,
            reported: super::Reported::default(),
            traces: crate::trace::Traces::new(runtime.config().trace_spans),
            trace_parent: None,
            watchers: None,
        };
        // Before `on_create`, which may use the database.
        if let Err(error) = host.open_db().await {
            if fresh {
                storage.destroy(record.storage_id).await?;
            }
            return Err(error);
        }
        if fresh {
            let batch = inspector_token();
            if let Err(error) = host.run_hook_with(Hook::Create, true, batch).await {
                storage.destroy(record.storage_id).await?;
                return Err(error);
            }
        } else {
            let memory = runtime.config().queue_memory.clone();
            host.queue =
                DurableQueue::load(storage, record.storage_id, A::queue_has_handler, memory)
                    .await?;
            host.load_schedules().await?;
        }
        host.run_hook(Hook::Wake, false).await?;
        host.metrics
            .wake_seconds
            .observe(started.elapsed().as_secs_f64());
        host.metrics.awake.inc();
        runtime.publish(record, LifecycleKind::Woke);
        Ok(host)
    }

    /// Opens the actor's database and runs pending migrations; their pages commit with the
    /// wake turn.
    async fn open_db(&mut self) -> Result<(), Error> {
        let migrations = A::migrations();
        if migrations.is_empty() {
            return Ok(());
        }
        #[cfg(feature = "sqlite")]
        {
            let storage = Arc::clone(self.runtime.storage());
            let db = crate::db::Db::open(&*storage, self.record.storage_id, migrations).await?;
            self.cx.stores_mut().db = Some(db);
            Ok(())
        }
        #[cfg(not(feature = "sqlite"))]
        Err(Error::internal(
            "this actor declares database migrations; build rivet-core with the `sqlite` feature",
        ))
    }

    async fn load_schedules(&mut self) -> Result<(), Error> {
        let stored = self
            .runtime
            .storage()
            .scan_prefix(self.record.storage_id, keys::SCHEDULES)
            .await?;
        let mut entries = Vec::with_capacity(stored.len());
        for (key, value) in &stored {
            entries.push(Entry::decode(key, value)?);
        }
        self.cx.stores_mut().schedules = Schedules::load(entries);
        Ok(())
    }
}

/// A new actor's own inspector token (RivetKit's per-actor token), to commit with its first
/// state.
fn inspector_token() -> crate::storage::Batch {
    let mut batch = crate::storage::Batch::default();
    match crate::ids::new_secret() {
        Some(token) => batch.put(keys::INSPECTOR_TOKEN, token.into_bytes()),
        None => tracing::warn!("no OS randomness: the actor gets no inspector token of its own"),
    }
    batch
}
