//! The inspector's view of an awake actor: its state, connections and queue as RivetKit's
//! inspector API shapes them (JSON), and a state replaced from the inspector, committed like
//! any turn.

use bytes::Bytes;
use rivet_client::protocol::compat::cbor_to_plain_json;
use rivet_client::{ActorError, codes};
use serde_json::{Value, json};
use tokio::sync::{oneshot, watch};

use super::Host;
use super::queue::Pushed;
use super::turn::{actor_attributes, decode_state};
use crate::actor::{Actor, Dispatch};
use crate::mailbox::{Inspect, Revisions};

/// How long a replay waits for the run loop of a finished workflow to end.
const REPLAY_SETTLE: std::time::Duration = std::time::Duration::from_secs(1);

/// A read of the actor's database.
#[cfg_attr(not(feature = "sqlite"), allow(dead_code))]
enum DbRead {
    Schema,
    Rows {
        table: String,
        limit: usize,
        offset: usize,
    },
}

impl<A: Actor> Host<A> {
    /// Starts an inspector's live view: a receiver of the actor's revisions, as of now.
    pub(super) fn watch(
        &mut self,
        reply: oneshot::Sender<Result<watch::Receiver<Revisions>, ActorError>>,
    ) {
        let now = self.revisions();
        let sender = self.watchers.get_or_insert_with(|| watch::channel(now).0);
        sender.send_replace(now);
        let _ = reply.send(Ok(sender.subscribe()));
    }

    /// Whether an inspector watches the actor (which keeps it awake).
    pub(super) fn watched(&mut self) -> bool {
        if self
            .watchers
            .as_ref()
            .is_some_and(|w| w.receiver_count() == 0)
        {
            self.watchers = None;
        }
        self.watchers.is_some()
    }

    /// Tells the watching inspectors what changed since the last message.
    pub(super) fn report_revisions(&mut self) {
        if !self.watched() {
            return;
        }
        let now = self.revisions();
        if let Some(watchers) = &self.watchers {
            watchers.send_if_modified(|seen| {
                let changed = *seen != now;
                *seen = now;
                changed
            });
        }
    }

    /// Fingerprints of the state, connections, queue, schedules and workflow as they are now.
    fn revisions(&self) -> Revisions {
        use std::hash::{DefaultHasher, Hash, Hasher};
        let hash = |write: &dyn Fn(&mut DefaultHasher)| {
            let mut hasher = DefaultHasher::new();
            write(&mut hasher);
            hasher.finish()
        };
        Revisions {
            state: hash(&|h| self.committed_state.hash(h)),
            connections: hash(&|h| {
                for conn in self.cx.connections().iter() {
                    (conn.id(), conn.subscription_count()).hash(h);
                }
            }),
            queue: hash(&|h| {
                self.queue.len().hash(h);
                self.queue.listing().next().map(|(id, ..)| id).hash(h);
            }),
            schedules: hash(&|h| {
                for call in self.cx.stores().schedules.calls() {
                    (&call.id, call.run_at).hash(h);
                }
            }),
            workflow: hash(&|h| {
                if let Some(history) = self.cx.workflow_history() {
                    history.entries.len().hash(h);
                    for entry in &history.entries {
                        (entry.attempts, entry.completed_at_ms).hash(h);
                        if let crate::workflow::EntryKind::Loop { iteration, .. } = &entry.kind {
                            iteration.hash(h);
                        }
                    }
                    std::mem::discriminant(&history.status).hash(h);
                }
            }),
        }
    }

    /// Answers an inspector request.
    pub(super) async fn inspect(
        &mut self,
        request: Inspect,
        reply: oneshot::Sender<Result<Value, ActorError>>,
    ) {
        let answer = match request {
            Inspect::SetState(state) => return self.set_state(&state, reply),
            Inspect::State => self
                .state_json()
                .map(|state| json!({ "state": state, "isStateEnabled": true })),
            Inspect::Connections => Ok(json!({ "connections": self.connections_json() })),
            Inspect::Queue { limit } => Ok(self.queue_json(limit)),
            Inspect::Enqueue { name, body } => return self.enqueue_inspected(name, &body, reply),
            Inspect::Purge => return self.purge(reply),
            Inspect::DbSchema => self.read_db(DbRead::Schema),
            Inspect::DbRows {
                table,
                limit,
                offset,
            } => self.read_db(DbRead::Rows {
                table,
                limit,
                offset,
            }),
            Inspect::DbExecute { sql, args } => return self.execute_sql(&sql, &args, reply),
            Inspect::WorkflowHistory => {
                Ok(workflow::history_json(self.cx.workflow_history().as_ref()))
            }
            Inspect::WorkflowReplay { entry_id } => {
                Box::pin(self.replay_workflow(entry_id.as_deref())).await
            }
            Inspect::Schedules => {
                let calls = self.cx.stores().schedules.calls();
                let calls: Vec<Value> = calls
                    .into_iter()
                    .map(|call| {
                        let args = cbor_to_plain_json(&call.args).unwrap_or(Value::Null);
                        let at = call
                            .run_at
                            .duration_since(std::time::UNIX_EPOCH)
                            .map_or(0, |d| d.as_millis());
                        json!({ "id": call.id, "action": call.action, "args": args, "nextRunAt": at })
                    })
                    .collect();
                Ok(json!({ "schedules": calls }))
            }
            Inspect::CancelSchedule(id) => return self.cancel_schedule(&id, reply),
            Inspect::Traces(query) => Ok(self.traces.otlp(&actor_attributes(&self.record), query)),
            Inspect::Summary => self.state_json().map(|state| {
                let meta = A::metadata();
                let workflow = self.cx.workflow_history();
                json!({
                    "state": state,
                    "isStateEnabled": true,
                    "connections": self.connections_json(),
                    "rpcs": meta.actions.iter().map(|a| a.name).collect::<Vec<_>>(),
                    "queueSize": self.queue.len(),
                    "isDatabaseEnabled": !A::migrations().is_empty(),
                    "isWorkflowEnabled": workflow.is_some(),
                    "workflowHistory": workflow::history_json(workflow.as_ref())["history"].take(),
                })
            }),
        };
        let _ = reply.send(answer);
    }

    /// The state as plain JSON (CBOR byte strings become arrays of numbers).
    fn state_json(&self) -> Result<Value, ActorError> {
        let encoded = rivet_client::codec::to_cbor(&self.state)?;
        cbor_to_plain_json(&encoded).map_err(|e| {
            codes::INTERNAL_ERROR.with_message(format!("The state has no JSON form: {e}"))
        })
    }

    fn connections_json(&self) -> Vec<Value> {
        self.cx
            .connections()
            .iter()
            .map(|conn| {
                let params = conn
                    .raw_params()
                    .and_then(|p| cbor_to_plain_json(p).ok())
                    .unwrap_or(Value::Null);
                json!({
                    "type": Value::Null,
                    "id": conn.id(),
                    "details": {
                        "type": Value::Null,
                        "params": params,
                        // Connection state is the actor's own type, not necessarily JSON.
                        "stateEnabled": false,
                        "state": Value::Null,
                        "subscriptions": conn.subscription_count(),
                        "isHibernatable": false,
                    },
                })
            })
            .collect()
    }

    fn queue_json(&self, limit: usize) -> Value {
        let messages: Vec<Value> = self
            .queue
            .listing()
            .take(limit)
            .map(|(id, name, sent_at_ms)| json!({ "id": id, "name": name, "createdAtMs": sent_at_ms }))
            .collect();
        json!({
            "size": self.queue.len(),
            "maxSize": self.runtime.config().max_queue_size,
            "truncated": self.queue.len() > messages.len(),
            "messages": messages,
        })
    }

    /// Reads the actor's database, then forgets anything the read touched.
    fn read_db(&mut self, read: DbRead) -> Result<Value, ActorError> {
        #[cfg(feature = "sqlite")]
        if let Some(db) = self.cx.stores_mut().db.as_mut() {
            let answer = match read {
                DbRead::Schema => database::schema(db),
                DbRead::Rows {
                    table,
                    limit,
                    offset,
                } => database::rows(db, &table, limit, offset),
            };
            if let Err(error) = self.cx.stores_mut().discard() {
                tracing::error!(%error, "cannot restore the actor's stores; restarting the actor");
                self.gate.poison();
            }
            return answer.map_err(|e| e.to_actor_error());
        }
        let _ = read;
        Err(codes::db::NOT_CONFIGURED.error())
    }

    /// Runs one SQL statement as a turn: what it writes commits with the turn, and the rows
    /// it returns are answered after the commit.
    fn execute_sql(
        &mut self,
        sql: &str,
        args: &Value,
        reply: oneshot::Sender<Result<Value, ActorError>>,
    ) {
        #[cfg(feature = "sqlite")]
        if let Some(db) = self.cx.stores_mut().db.as_mut() {
            let (result, rows) = match db.query::<Value, _>(sql, args) {
                Ok(rows) => (Ok(Bytes::new()), rows),
                Err(error) => (Err(error), Vec::new()),
            };
            let dispatch = Dispatch {
                result,
                mutates: false,
            };
            let batch = self.gate.batch();
            self.finish_turn(dispatch, batch, "inspector SQL", move |result| {
                let _ = reply.send(result.map(|_| json!({ "rows": rows })));
            });
            return;
        }
        let _ = (sql, args);
        let _ = reply.send(Err(codes::db::NOT_CONFIGURED.error()));
    }

    /// Stores a message as a send does, and answers with its id and time once it is stored.
    fn enqueue_inspected(
        &mut self,
        name: String,
        body: &[u8],
        reply: oneshot::Sender<Result<Value, ActorError>>,
    ) {
        let pushed = match self.queue_send(name.clone(), body) {
            Ok(pushed) => pushed,
            Err(error) => {
                let _ = reply.send(Err(error.into_reply("inspector queue send")));
                return;
            }
        };
        let Pushed {
            id,
            sent_at_ms,
            batch,
        } = pushed;
        // RivetKit 2.3 answers the id as a string here (and as a number in the listing).
        let answer = json!({ "id": id.to_string(), "name": name, "createdAtMs": sent_at_ms });
        self.gate.submit(batch, move |result| {
            let _ = reply.send(match result {
                Ok(()) => Ok(answer),
                Err(e) => Err(super::turn::storage_failure(&e)),
            });
        });
    }

    /// Removes every waiting message; their waiting senders hear so once that is stored.
    fn purge(&mut self, reply: oneshot::Sender<Result<Value, ActorError>>) {
        let mut batch = crate::storage::Batch::default();
        let waiters = self.queue.purge(&mut batch);
        self.gate.submit(batch, move |result| {
            let purged = codes::DROPPED_REPLY
                .with_message("The message was removed from the queue by the inspector.");
            for waiter in waiters {
                let _ = waiter.send(Err(purged.clone()));
            }
            let _ = reply.send(match result {
                Ok(()) => Ok(json!({})),
                Err(e) => Err(super::turn::storage_failure(&e)),
            });
        });
    }

    /// Runs the finished workflow again from step `entry_id` (from its start without one), as
    /// RivetKit's replay does: refused while the run loop runs; otherwise the entries from
    /// there on and the output are deleted, and once that is stored the run loop starts again.
    async fn replay_workflow(&mut self, entry_id: Option<&str>) -> Result<Value, ActorError> {
        let engine = self.cx.identity().workflow();
        if let Some(run) = self.run_loop.as_mut()
            && !run.is_finished()
        {
            // A workflow that completed or failed ends its loop at once (an actor woken by this
            // very request is replaying it to its end): wait for that, briefly.
            let settled = match &engine {
                Some(engine) => crate::sync::lock(engine).is_settled(),
                // Not loaded yet by the loop just started: a stored output means it completed.
                None => self
                    .runtime
                    .storage()
                    .get(
                        self.record.storage_id,
                        crate::storage::keys::WORKFLOW_OUTPUT,
                    )
                    .await
                    .is_ok_and(|output| output.is_some()),
            };
            if !settled || !run.ended_within(REPLAY_SETTLE).await {
                return Err(codes::inspector::WORKFLOW_IN_FLIGHT.error());
            }
        }
        // Read again: a loop that just ended has loaded its workflow by now.
        let Some(engine) = self.cx.identity().workflow() else {
            // No workflow ran in this activation: nothing to replay.
            return Ok(workflow::history_json(None));
        };
        let deleted = crate::sync::lock(&engine)
            .replay_from(entry_id)
            .map_err(|e| e.to_actor_error())?;
        let mut batch = self.gate.batch();
        for key in deleted {
            batch.delete(key);
        }
        let (stored, done) = oneshot::channel();
        self.gate.submit(batch, move |result| {
            let _ = stored.send(result);
        });
        match done.await {
            Ok(Ok(())) => {}
            Ok(Err(error)) => return Err(super::turn::storage_failure(&error)),
            Err(_) => return Err(codes::DROPPED_REPLY.error()),
        }
        let history = crate::sync::lock(&engine).history();
        tracing::info!(
            from = entry_id.unwrap_or("the start"),
            "replaying the workflow"
        );
        self.start_run_loop();
        Ok(workflow::history_json(Some(&history)))
    }

    /// Cancels scheduled call `id` in a turn of its own, answered once that is stored.
    fn cancel_schedule(&mut self, id: &str, reply: oneshot::Sender<Result<Value, ActorError>>) {
        let deleted =
            crate::schedule::Schedule::<A>::new(&mut self.cx.stores_mut().schedules).cancel(id);
        let dispatch = Dispatch {
            result: Ok(Bytes::new()),
            mutates: false,
        };
        let batch = self.gate.batch();
        self.finish_turn(
            dispatch,
            batch,
            "inspector schedule cancel",
            move |result| {
                let _ = reply.send(result.map(|_| json!({ "deleted": deleted })));
            },
        );
    }

    /// Replaces the state with `encoded` (CBOR), which must decode as the actor's state type,
    /// in a turn of its own: `#[on_state_change]` runs, and the answer waits for the commit.
    fn set_state(&mut self, encoded: &[u8], reply: oneshot::Sender<Result<Value, ActorError>>) {
        let state = match decode_state::<A>(encoded) {
            Ok(state) => state,
            Err(_) => {
                let error = codes::INVALID_REQUEST
                    .with_message("The state does not match the actor's state type.");
                let _ = reply.send(Err(error));
                return;
            }
        };
        self.state = state;
        let dispatch = Dispatch {
            result: Ok(Bytes::new()),
            mutates: true,
        };
        let batch = self.gate.batch();
        self.finish_turn(dispatch, batch, "inspector state change", move |result| {
            let _ = reply.send(result.map(|_| json!({ "ok": true })));
        });
    }
}

/// The database reads of the inspector, in RivetKit's shapes.
#[cfg(feature = "sqlite")]
mod database {
    use serde_json::{Value, json};

    use crate::db::Db;
    use crate::error::Error;

    /// The most rows one read returns (RivetKit's limit).
    pub(super) const MAX_ROWS: usize = 500;

    /// The user's tables and views (not SQLite's own), by name.
    fn tables(db: &mut Db) -> Result<Vec<(String, String)>, Error> {
        let rows: Vec<(String, String)> = db
            .query::<Value, _>(
                "SELECT name, type FROM sqlite_master \
                 WHERE type IN ('table', 'view') AND name NOT LIKE 'sqlite_%' ORDER BY name",
                (),
            )?
            .into_iter()
            .filter_map(|row| {
                Some((
                    row["name"].as_str()?.to_owned(),
                    row["type"].as_str()?.to_owned(),
                ))
            })
            .collect();
        Ok(rows)
    }

    /// A name quoted for SQL.
    fn quoted(name: &str) -> String {
        format!("\"{}\"", name.replace('"', "\"\""))
    }

    pub(super) fn schema(db: &mut Db) -> Result<Value, Error> {
        let mut tables = Vec::new();
        for (name, kind) in self::tables(db)? {
            let quoted = quoted(&name);
            let columns = db.query::<Value, _>(&format!("PRAGMA table_info({quoted})"), ())?;
            let foreign_keys =
                db.query::<Value, _>(&format!("PRAGMA foreign_key_list({quoted})"), ())?;
            let records = db
                .query_column::<i64, _>(&format!("SELECT COUNT(*) FROM {quoted}"), ())?
                .first()
                .copied()
                .unwrap_or(0);
            tables.push(json!({
                "table": { "schema": "main", "name": name, "type": kind },
                "columns": columns,
                "foreignKeys": foreign_keys,
                "records": records,
            }));
        }
        Ok(json!({ "schema": { "tables": tables } }))
    }

    pub(super) fn rows(
        db: &mut Db,
        table: &str,
        limit: usize,
        offset: usize,
    ) -> Result<Value, Error> {
        // Only a table the schema lists: the name goes into the SQL text.
        if !self::tables(db)?.iter().any(|(name, _)| name == table) {
            return Err(Error::public(
                rivet_client::codes::db::SQL_ERROR.with_message(format!("No table `{table}`.")),
            ));
        }
        let sql = format!(
            "SELECT * FROM {} LIMIT {} OFFSET {offset}",
            quoted(table),
            limit.min(MAX_ROWS)
        );
        Ok(json!({ "rows": db.query::<Value, _>(&sql, ())? }))
    }
}

/// A workflow's history in the shape of RivetKit's inspector (`nameRegistry`, `entries` with
/// their locations and kinds, `entryMetadata` by entry id).
mod workflow {
    use serde_json::{Map, Value, json};

    use crate::workflow::{EntryKind, HistoryEntry, WorkflowHistory, WorkflowStatus};

    /// `{"history", "workflowState", "isWorkflowEnabled"}`; `history` is `null` when the actor
    /// has no workflow (or it has not started in this activation).
    pub(super) fn history_json(history: Option<&WorkflowHistory>) -> Value {
        let Some(history) = history else {
            return json!({ "history": null, "workflowState": null, "isWorkflowEnabled": false });
        };
        let mut names: Vec<String> = Vec::new();
        let mut entries = Vec::new();
        let mut metadata = Map::new();
        for entry in &history.entries {
            // The path is the entry's id: unique and stable across wakes.
            let id = entry.path.clone();
            entries.push(json!({
                "id": id,
                "location": location(&entry.path, &mut names),
                "kind": kind(entry),
            }));
            metadata.insert(id, entry_metadata(entry));
        }
        let state = match history.status {
            WorkflowStatus::Running => "running",
            WorkflowStatus::Completed => "completed",
            WorkflowStatus::Failed { .. } => "failed",
        };
        json!({
            "history": {
                "nameRegistry": names,
                "entries": entries,
                "entryMetadata": metadata,
            },
            "workflowState": state,
            "isWorkflowEnabled": true,
        })
    }

    /// A path (`"loop/~3/step"`) as location segments indexing `names`.
    fn location(path: &str, names: &mut Vec<String>) -> Vec<Value> {
        let mut segments = Vec::new();
        let mut last_name = None;
        for part in path.split('/') {
            let iteration = part.strip_prefix('~').and_then(|n| n.parse::<u64>().ok());
            match (iteration, last_name) {
                (Some(iteration), Some(loop_index)) => segments.push(json!({
                    "tag": "WorkflowLoopIterationMarker",
                    "val": { "loop": loop_index, "iteration": iteration },
                })),
                _ => {
                    let index = match names.iter().position(|n| n == part) {
                        Some(index) => index,
                        None => {
                            names.push(part.to_owned());
                            names.len() - 1
                        }
                    };
                    last_name = Some(index);
                    segments.push(json!({ "tag": "WorkflowNameIndex", "val": index }));
                }
            }
        }
        segments
    }

    fn kind(entry: &HistoryEntry) -> Value {
        let (tag, val) = match &entry.kind {
            EntryKind::Step { output } => (
                "WorkflowStepEntry",
                json!({ "output": output, "error": null }),
            ),
            EntryKind::Loop {
                iteration,
                state,
                output,
            } => (
                "WorkflowLoopEntry",
                json!({ "state": state, "iteration": iteration, "output": output }),
            ),
            EntryKind::Sleep { until_ms } => {
                let state = if entry.completed_at_ms.is_some() {
                    "COMPLETED"
                } else {
                    "PENDING"
                };
                (
                    "WorkflowSleepEntry",
                    json!({ "deadline": until_ms, "state": state }),
                )
            }
            EntryKind::Message { name, body } => (
                "WorkflowMessageEntry",
                json!({ "name": name.clone().unwrap_or_default(), "messageData": body }),
            ),
            // Branch results are entries of their own, under the join's path.
            EntryKind::Join => ("WorkflowJoinEntry", json!({ "branches": {} })),
            EntryKind::Race { winner, output } => {
                let mut branches = Map::new();
                if let Some(winner) = winner {
                    branches.insert(
                        winner.clone(),
                        json!({ "status": "COMPLETED", "output": output, "error": null }),
                    );
                }
                (
                    "WorkflowRaceEntry",
                    json!({ "winner": winner, "branches": branches }),
                )
            }
            EntryKind::Removed => (
                "WorkflowRemovedEntry",
                json!({ "originalType": "step", "originalName": null }),
            ),
        };
        json!({ "tag": tag, "val": val })
    }

    fn entry_metadata(entry: &HistoryEntry) -> Value {
        let status = if entry.completed_at_ms.is_some() {
            "COMPLETED"
        } else {
            "RUNNING"
        };
        json!({
            "status": status,
            "error": null,
            "attempts": entry.attempts,
            "lastAttemptAt": entry.completed_at_ms.unwrap_or(entry.created_at_ms),
            "createdAt": entry.created_at_ms,
            "completedAt": entry.completed_at_ms,
            "rollbackCompletedAt": null,
            "rollbackError": null,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn paths_become_name_indexes_and_loop_iterations() {
            let mut names = Vec::new();
            let first = location("tasks/~3/process", &mut names);
            let second = location("tasks", &mut names);
            assert_eq!(names, ["tasks", "process"]);
            let marker = json!({ "loop": 0, "iteration": 3 });
            assert_eq!(
                first,
                [
                    json!({ "tag": "WorkflowNameIndex", "val": 0 }),
                    json!({ "tag": "WorkflowLoopIterationMarker", "val": marker }),
                    json!({ "tag": "WorkflowNameIndex", "val": 1 }),
                ]
            );
            assert_eq!(second, [json!({ "tag": "WorkflowNameIndex", "val": 0 })]);
        }

        #[test]
        fn no_workflow_is_a_null_history() {
            let expected =
                json!({ "history": null, "workflowState": null, "isWorkflowEnabled": false });
            assert_eq!(history_json(None), expected);
        }
    }
}
