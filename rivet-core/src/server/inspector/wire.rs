//! RivetKit's inspector WebSocket protocol (BARE, versions 1 to 6): the requests the dashboard
//! sends, the messages it gets back, and the version-dependent union tags between them.
//!
//! The versions share their structs and differ in which union members exist (and so in the
//! tags of those after them) and in `Init`'s fields. A message a version lacks goes to its
//! client as an `Error` with RivetKit's `inspector.*_dropped` code, as RivetKit's converters do.

use rivet_client::protocol::bare::{BareError, Reader, Writer};

/// The newest version; also what a client that names none gets (RivetKit's legacy framing).
pub(crate) const CURRENT_VERSION: u16 = 6;
/// What a connection without `protocol_version` speaks, a version prefix in every message
/// (clients from before the version moved to the URL).
pub(crate) const LEGACY_VERSION: u16 = 5;

/// A request from the dashboard; `id` is echoed as the answer's `rid`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Request {
    PatchState {
        state: Vec<u8>,
    },
    State {
        id: u64,
    },
    Connections {
        id: u64,
    },
    Action {
        id: u64,
        name: String,
        args: Vec<u8>,
    },
    Rpcs {
        id: u64,
    },
    Traces {
        id: u64,
        start_ms: u64,
        end_ms: u64,
        limit: u64,
    },
    Queue {
        id: u64,
        limit: u64,
    },
    WorkflowHistory {
        id: u64,
    },
    WorkflowReplay {
        id: u64,
        entry_id: Option<String>,
    },
    DbSchema {
        id: u64,
    },
    DbRows {
        id: u64,
        table: String,
        limit: u64,
        offset: u64,
    },
    Schedules {
        id: u64,
    },
    ScheduleHistory {
        id: u64,
        schedule_id: String,
        limit: u64,
    },
    ScheduleDelete {
        id: u64,
        schedule_id: String,
        kind: String,
    },
    /// Version 1's event log, which later versions dropped.
    Events {
        id: u64,
    },
}

/// A connection as the dashboard lists it: its id and its details (CBOR).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Connection {
    pub(crate) id: String,
    pub(crate) details: Vec<u8>,
}

/// A schedule (version 6).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Schedule {
    pub(crate) id: String,
    pub(crate) action: String,
    /// CBOR array.
    pub(crate) args: Vec<u8>,
    pub(crate) next_run_at: u64,
}

/// The queue's status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct QueueStatus {
    pub(crate) size: u64,
    pub(crate) max_size: u64,
    /// Id, name, sent time (ms).
    pub(crate) messages: Vec<(u64, String, u64)>,
    pub(crate) truncated: bool,
}

/// What the dashboard gets first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Init {
    pub(crate) connections: Vec<Connection>,
    pub(crate) state: Option<Vec<u8>>,
    pub(crate) rpcs: Vec<String>,
    pub(crate) database: bool,
    pub(crate) queue_size: u64,
    /// BARE (see `transport.rs`).
    pub(crate) workflow_history: Option<Vec<u8>>,
    pub(crate) workflow: bool,
    pub(crate) schedules: Vec<Schedule>,
}

/// A message to the dashboard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Message {
    State {
        rid: u64,
        state: Option<Vec<u8>>,
    },
    Connections {
        rid: u64,
        connections: Vec<Connection>,
    },
    Action {
        rid: u64,
        output: Vec<u8>,
    },
    ConnectionsUpdated {
        connections: Vec<Connection>,
    },
    QueueUpdated {
        size: u64,
    },
    StateUpdated {
        state: Vec<u8>,
    },
    WorkflowHistoryUpdated {
        history: Vec<u8>,
    },
    SchedulesUpdated {
        schedules: Vec<Schedule>,
    },
    Rpcs {
        rid: u64,
        rpcs: Vec<String>,
    },
    Traces {
        rid: u64,
        payload: Vec<u8>,
    },
    Queue {
        rid: u64,
        status: QueueStatus,
    },
    WorkflowHistory {
        rid: u64,
        history: Option<Vec<u8>>,
        enabled: bool,
    },
    WorkflowReplay {
        rid: u64,
        history: Option<Vec<u8>>,
        enabled: bool,
    },
    Schedules {
        rid: u64,
        schedules: Vec<Schedule>,
    },
    /// Past runs of a schedule; this runtime keeps none.
    ScheduleHistory {
        rid: u64,
        schedule_id: String,
    },
    ScheduleDeleted {
        rid: u64,
        schedule_id: String,
        deleted: bool,
    },
    Error {
        message: String,
    },
    Init(Box<Init>),
    DbSchema {
        rid: u64,
        schema: Vec<u8>,
    },
    DbRows {
        rid: u64,
        result: Vec<u8>,
    },
}

/// The members of `ToServerBody`, in tag order, per version.
fn request_tags(version: u16) -> &'static [&'static str] {
    const V1: &[&str] = &[
        "PatchState",
        "State",
        "Connections",
        "Action",
        "Events",
        "ClearEvents",
        "Rpcs",
    ];
    const V2: &[&str] = &[
        "PatchState",
        "State",
        "Connections",
        "Action",
        "Rpcs",
        "Traces",
        "Queue",
        "WorkflowHistory",
    ];
    const V3: &[&str] = &[
        "PatchState",
        "State",
        "Connections",
        "Action",
        "Rpcs",
        "Traces",
        "Queue",
        "WorkflowHistory",
        "DbSchema",
        "DbRows",
    ];
    const V4: &[&str] = &[
        "PatchState",
        "State",
        "Connections",
        "Action",
        "Rpcs",
        "Traces",
        "Queue",
        "WorkflowHistory",
        "WorkflowReplay",
        "DbSchema",
        "DbRows",
    ];
    const V6: &[&str] = &[
        "PatchState",
        "State",
        "Connections",
        "Action",
        "Rpcs",
        "Traces",
        "Queue",
        "WorkflowHistory",
        "WorkflowReplay",
        "DbSchema",
        "DbRows",
        "Schedules",
        "ScheduleHistory",
        "ScheduleDelete",
    ];
    match version {
        1 => V1,
        2 => V2,
        3 => V3,
        4 | 5 => V4,
        _ => V6,
    }
}

/// The members of `ToClientBody`, in tag order, per version.
fn message_tags(version: u16) -> &'static [&'static str] {
    const V1: &[&str] = &[
        "StateResponse",
        "ConnectionsResponse",
        "EventsResponse",
        "ActionResponse",
        "RpcsListResponse",
        "ConnectionsUpdated",
        "EventsUpdated",
        "StateUpdated",
        "Error",
        "Init",
    ];
    const V2: &[&str] = &[
        "StateResponse",
        "ConnectionsResponse",
        "ActionResponse",
        "ConnectionsUpdated",
        "QueueUpdated",
        "StateUpdated",
        "WorkflowHistoryUpdated",
        "RpcsListResponse",
        "TraceQueryResponse",
        "QueueResponse",
        "WorkflowHistoryResponse",
        "Error",
        "Init",
    ];
    const V3: &[&str] = &[
        "StateResponse",
        "ConnectionsResponse",
        "ActionResponse",
        "ConnectionsUpdated",
        "QueueUpdated",
        "StateUpdated",
        "WorkflowHistoryUpdated",
        "RpcsListResponse",
        "TraceQueryResponse",
        "QueueResponse",
        "WorkflowHistoryResponse",
        "Error",
        "Init",
        "DatabaseSchemaResponse",
        "DatabaseTableRowsResponse",
    ];
    const V4: &[&str] = &[
        "StateResponse",
        "ConnectionsResponse",
        "ActionResponse",
        "ConnectionsUpdated",
        "QueueUpdated",
        "StateUpdated",
        "WorkflowHistoryUpdated",
        "RpcsListResponse",
        "TraceQueryResponse",
        "QueueResponse",
        "WorkflowHistoryResponse",
        "WorkflowReplayResponse",
        "Error",
        "Init",
        "DatabaseSchemaResponse",
        "DatabaseTableRowsResponse",
    ];
    const V6: &[&str] = &[
        "StateResponse",
        "ConnectionsResponse",
        "ActionResponse",
        "ConnectionsUpdated",
        "QueueUpdated",
        "StateUpdated",
        "WorkflowHistoryUpdated",
        "SchedulesUpdated",
        "RpcsListResponse",
        "TraceQueryResponse",
        "QueueResponse",
        "WorkflowHistoryResponse",
        "WorkflowReplayResponse",
        "SchedulesResponse",
        "ScheduleHistoryResponse",
        "ScheduleDeleteResponse",
        "Error",
        "Init",
        "DatabaseSchemaResponse",
        "DatabaseTableRowsResponse",
    ];
    match version {
        1 => V1,
        2 => V2,
        3 => V3,
        4 | 5 => V4,
        _ => V6,
    }
}

/// Why a request did not decode.
#[derive(Debug, thiserror::Error)]
pub(crate) enum WireError {
    #[error(transparent)]
    Bare(#[from] BareError),
    #[error("unknown inspector request tag {0}")]
    UnknownTag(u64),
    #[error("unsupported inspector protocol version {0}")]
    Version(u16),
    #[error("inspector request {0} is not supported by this runtime")]
    Unsupported(&'static str),
}

/// Whether this runtime speaks `version`.
pub(crate) fn supported(version: u16) -> bool {
    (1..=CURRENT_VERSION).contains(&version)
}

/// Reads a request of `version`, or, with `None`, one that starts with its version.
pub(crate) fn decode_request(bytes: &[u8], version: Option<u16>) -> Result<Request, WireError> {
    let (version, mut r) = match version {
        Some(version) => (version, Reader::new(bytes)),
        None => Reader::versioned(bytes)?,
    };
    if !supported(version) {
        return Err(WireError::Version(version));
    }
    let tag = r.uint()?;
    let name = usize::try_from(tag)
        .ok()
        .and_then(|i| request_tags(version).get(i))
        .ok_or(WireError::UnknownTag(tag))?;
    let text = |r: &mut Reader<'_>| r.str().map(str::to_owned);
    let request = match *name {
        "PatchState" => Request::PatchState {
            state: r.data()?.to_vec(),
        },
        "State" => Request::State { id: r.uint()? },
        "Connections" => Request::Connections { id: r.uint()? },
        "Action" => Request::Action {
            id: r.uint()?,
            name: text(&mut r)?,
            args: r.data()?.to_vec(),
        },
        "Rpcs" => Request::Rpcs { id: r.uint()? },
        "Traces" => Request::Traces {
            id: r.uint()?,
            start_ms: r.uint()?,
            end_ms: r.uint()?,
            limit: r.uint()?,
        },
        "Queue" => Request::Queue {
            id: r.uint()?,
            limit: r.uint()?,
        },
        "WorkflowHistory" => Request::WorkflowHistory { id: r.uint()? },
        "WorkflowReplay" => Request::WorkflowReplay {
            id: r.uint()?,
            entry_id: r.optional(|r| r.str().map(str::to_owned))?,
        },
        "DbSchema" => Request::DbSchema { id: r.uint()? },
        "DbRows" => Request::DbRows {
            id: r.uint()?,
            table: text(&mut r)?,
            limit: r.uint()?,
            offset: r.uint()?,
        },
        "Schedules" => Request::Schedules { id: r.uint()? },
        "ScheduleHistory" => Request::ScheduleHistory {
            id: r.uint()?,
            schedule_id: text(&mut r)?,
            limit: r.uint()?,
        },
        "ScheduleDelete" => Request::ScheduleDelete {
            id: r.uint()?,
            schedule_id: text(&mut r)?,
            kind: text(&mut r)?,
        },
        "Events" | "ClearEvents" => Request::Events { id: r.uint()? },
        _ => return Err(WireError::Unsupported(name)),
    };
    r.end()?;
    Ok(request)
}

impl Message {
    /// The member's name in the schema.
    fn tag(&self) -> &'static str {
        match self {
            Self::State { .. } => "StateResponse",
            Self::Connections { .. } => "ConnectionsResponse",
            Self::Action { .. } => "ActionResponse",
            Self::ConnectionsUpdated { .. } => "ConnectionsUpdated",
            Self::QueueUpdated { .. } => "QueueUpdated",
            Self::StateUpdated { .. } => "StateUpdated",
            Self::WorkflowHistoryUpdated { .. } => "WorkflowHistoryUpdated",
            Self::SchedulesUpdated { .. } => "SchedulesUpdated",
            Self::Rpcs { .. } => "RpcsListResponse",
            Self::Traces { .. } => "TraceQueryResponse",
            Self::Queue { .. } => "QueueResponse",
            Self::WorkflowHistory { .. } => "WorkflowHistoryResponse",
            Self::WorkflowReplay { .. } => "WorkflowReplayResponse",
            Self::Schedules { .. } => "SchedulesResponse",
            Self::ScheduleHistory { .. } => "ScheduleHistoryResponse",
            Self::ScheduleDeleted { .. } => "ScheduleDeleteResponse",
            Self::Error { .. } => "Error",
            Self::Init(_) => "Init",
            Self::DbSchema { .. } => "DatabaseSchemaResponse",
            Self::DbRows { .. } => "DatabaseTableRowsResponse",
        }
    }

    /// RivetKit's code for a message that `version` has no member for.
    fn dropped_code(&self) -> &'static str {
        match self {
            Self::QueueUpdated { .. } | Self::Queue { .. } => "inspector.queue_dropped",
            Self::WorkflowHistoryUpdated { .. }
            | Self::WorkflowHistory { .. }
            | Self::WorkflowReplay { .. } => "inspector.workflow_history_dropped",
            Self::Traces { .. } => "inspector.trace_dropped",
            Self::DbSchema { .. } | Self::DbRows { .. } => "inspector.database_dropped",
            Self::SchedulesUpdated { .. }
            | Self::Schedules { .. }
            | Self::ScheduleHistory { .. }
            | Self::ScheduleDeleted { .. } => "inspector.schedules_dropped",
            _ => "inspector.events_dropped",
        }
    }

    /// The message in `version`'s encoding, with the version in front when `embedded`.
    pub(crate) fn encode(&self, version: u16, embedded: bool) -> Vec<u8> {
        let mut w = if embedded {
            Writer::versioned(version)
        } else {
            Writer::default()
        };
        let tags = message_tags(version);
        let Some(tag) = tags.iter().position(|t| *t == self.tag()) else {
            let error = Self::Error {
                message: self.dropped_code().to_owned(),
            };
            return error.encode(version, embedded);
        };
        w.uint(tag as u64);
        self.write_body(&mut w, version);
        w.finish()
    }

    fn write_body(&self, w: &mut Writer, version: u16) {
        match self {
            Self::State { rid, state } => {
                w.uint(*rid);
                w.optional(state.as_deref(), |w, s| {
                    w.data(s);
                });
                w.bool(true);
            }
            Self::Connections { rid, connections } => {
                w.uint(*rid);
                write_connections(w, connections);
            }
            Self::Action { rid, output } => {
                w.uint(*rid).data(output);
            }
            Self::ConnectionsUpdated { connections } => write_connections(w, connections),
            Self::QueueUpdated { size } => {
                w.uint(*size);
            }
            Self::StateUpdated { state } => {
                w.data(state);
            }
            Self::WorkflowHistoryUpdated { history } => {
                w.data(history);
            }
            Self::SchedulesUpdated { schedules } => write_schedules(w, schedules),
            Self::Rpcs { rid, rpcs } => {
                w.uint(*rid);
                write_strings(w, rpcs);
            }
            Self::Traces { rid, payload } => {
                w.uint(*rid).data(payload);
            }
            Self::Queue { rid, status } => {
                w.uint(*rid).uint(status.size).uint(status.max_size);
                w.uint(status.messages.len() as u64);
                for (id, name, created) in &status.messages {
                    w.uint(*id).str(name).uint(*created);
                }
                w.bool(status.truncated);
            }
            Self::WorkflowHistory {
                rid,
                history,
                enabled,
            }
            | Self::WorkflowReplay {
                rid,
                history,
                enabled,
            } => {
                w.uint(*rid);
                w.optional(history.as_deref(), |w, h| {
                    w.data(h);
                });
                w.bool(*enabled);
            }
            Self::Schedules { rid, schedules } => {
                w.uint(*rid);
                write_schedules(w, schedules);
            }
            Self::ScheduleHistory { rid, schedule_id } => {
                w.uint(*rid).str(schedule_id).uint(0);
            }
            Self::ScheduleDeleted {
                rid,
                schedule_id,
                deleted,
            } => {
                w.uint(*rid).str(schedule_id).bool(*deleted);
            }
            Self::Error { message } => {
                w.str(message);
            }
            Self::Init(init) => write_init(w, init, version),
            Self::DbSchema { rid, schema } => {
                w.uint(*rid).data(schema);
            }
            Self::DbRows { rid, result } => {
                w.uint(*rid).data(result);
            }
        }
    }
}

fn write_strings(w: &mut Writer, strings: &[String]) {
    w.uint(strings.len() as u64);
    for s in strings {
        w.str(s);
    }
}

fn write_connections(w: &mut Writer, connections: &[Connection]) {
    w.uint(connections.len() as u64);
    for c in connections {
        w.str(&c.id).data(&c.details);
    }
}

fn write_schedules(w: &mut Writer, schedules: &[Schedule]) {
    w.uint(schedules.len() as u64);
    for s in schedules {
        w.str(&s.id);
        // name: none (one-shot schedules have no name).
        w.optional(None::<()>, |_, ()| {});
        w.str("at").str(&s.action).data(&s.args).uint(s.next_run_at);
        // lastRunAt, expression, timezone, intervalMs, maxHistory: none for a one-shot.
        for _ in 0..5 {
            w.optional(None::<()>, |_, ()| {});
        }
    }
}

fn write_init(w: &mut Writer, init: &Init, version: u16) {
    write_connections(w, &init.connections);
    if version == 1 {
        // The event log, which this runtime does not keep.
        w.uint(0);
    }
    w.optional(init.state.as_deref(), |w, s| {
        w.data(s);
    });
    w.bool(true);
    write_strings(w, &init.rpcs);
    w.bool(init.database);
    if version >= 2 {
        w.uint(init.queue_size);
        w.optional(init.workflow_history.as_deref(), |w, h| {
            w.data(h);
        });
        w.bool(init.workflow);
    }
    if version >= 5 {
        // No custom tabs.
        w.uint(0);
    }
    if version >= 6 {
        write_schedules(w, &init.schedules);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_tags_follow_the_version() {
        // WorkflowReplayRequest came in at tag 8 in version 4, moving the database requests.
        let mut w = Writer::default();
        w.uint(8).uint(7);
        let bytes = w.finish();
        assert_eq!(
            decode_request(&bytes, Some(3)).unwrap(),
            Request::DbSchema { id: 7 }
        );
        let mut w = Writer::default();
        w.uint(8).uint(7).optional(None::<()>, |_, ()| {});
        let bytes = w.finish();
        assert_eq!(
            decode_request(&bytes, Some(6)).unwrap(),
            Request::WorkflowReplay {
                id: 7,
                entry_id: None
            }
        );
    }

    #[test]
    fn embedded_versions_are_read_from_the_message() {
        let mut w = Writer::versioned(6);
        w.uint(13).uint(1).str("s1").str("at");
        let request = decode_request(&w.finish(), None).unwrap();
        assert_eq!(
            request,
            Request::ScheduleDelete {
                id: 1,
                schedule_id: "s1".into(),
                kind: "at".into()
            }
        );
        let mut w = Writer::versioned(9);
        w.uint(1).uint(1);
        assert!(matches!(
            decode_request(&w.finish(), None),
            Err(WireError::Version(9))
        ));
    }

    #[test]
    fn bad_requests_are_errors_not_panics() {
        for bytes in [&[][..], &[99, 1], &[3, 1, 200], &[1, 1, 0]] {
            assert!(decode_request(bytes, Some(6)).is_err(), "{bytes:?}");
        }
    }

    #[test]
    fn members_a_version_lacks_become_dropped_errors() {
        let message = Message::Schedules {
            rid: 1,
            schedules: Vec::new(),
        };
        let expected = Message::Error {
            message: "inspector.schedules_dropped".into(),
        };
        assert_eq!(message.encode(5, false), expected.encode(5, false));
        // Error is tag 16 in version 6 and 12 in version 5.
        assert_eq!(expected.encode(6, false)[0], 16);
        assert_eq!(expected.encode(5, true)[..3], [5, 0, 12]);
    }
}
