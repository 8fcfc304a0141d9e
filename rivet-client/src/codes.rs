//! Every error code, in one tree: the runtime's and the clients' codes at the top, the codes of
//! the actor APIs and of the gateway in submodules, and [`ALL`] of them.
#![doc = ""]
#![doc = include_str!("../ERROR_CODES.md")]

use crate::error::ErrorCode;

/// No actor has this id, or this name and key; or it was destroyed.
pub const ACTOR_NOT_FOUND: ErrorCode = ErrorCode::new(
    "actor",
    "not_found",
    "The actor does not exist or was destroyed.",
);
/// The actor has no action of that name.
pub const ACTION_NOT_FOUND: ErrorCode =
    ErrorCode::new("actor", "action_not_found", "Action not found");
/// `create` was called with a key that is already in use.
pub const DUPLICATE_KEY: ErrorCode =
    ErrorCode::new("actor", "duplicate_key", "Actor key already in use.");
/// No actor type of that name is registered.
pub const NOT_REGISTERED: ErrorCode = ErrorCode::new(
    "actor",
    "not_registered",
    "Actor factory is not registered.",
);
/// Arguments, input or a message did not match the declared types.
pub const VALIDATION_ERROR: ErrorCode =
    ErrorCode::new("actor", "validation_error", "Actor validation failed");
/// The actor needs creation input and none was given.
pub const MISSING_INPUT: ErrorCode =
    ErrorCode::new("actor", "missing_input", "Actor input is missing.");
/// The action did not finish within the action timeout.
pub const ACTION_TIMED_OUT: ErrorCode =
    ErrorCode::new("actor", "action_timed_out", "Action timed out");
/// A call back into an actor whose turn is waiting for this very call (A calls B, and B
/// calls A): it could only deadlock, so it fails at once.
pub const CALL_CYCLE: ErrorCode = ErrorCode::new(
    "actor",
    "call_cycle",
    "The called actor is waiting for this call; calling back into it would deadlock.",
);
/// The actor's mailbox is full.
pub const OVERLOADED: ErrorCode = ErrorCode::new("actor", "overloaded", "Actor is overloaded.");
/// The request is malformed.
pub const INVALID_REQUEST: ErrorCode =
    ErrorCode::new("actor", "invalid_request", "Invalid request.");
/// The actor stopped before it answered.
pub const DROPPED_REPLY: ErrorCode = ErrorCode::new(
    "actor",
    "dropped_reply",
    "Actor reply channel was dropped without a response.",
);
/// The actor's state grew past the configured limit; the state is unchanged.
pub const STATE_TOO_LARGE: ErrorCode =
    ErrorCode::new("actor", "state_too_large", "Actor state is too large.");
/// The actor has no queue of that name.
pub const QUEUE_NOT_FOUND: ErrorCode = ErrorCode::new("queue", "not_found", "Queue not found.");
/// The queue holds its maximum number of messages.
pub const QUEUE_FULL: ErrorCode = ErrorCode::new("queue", "full", "Queue is full.");
/// The message is larger than the queue accepts.
pub const QUEUE_MESSAGE_TOO_LARGE: ErrorCode =
    ErrorCode::new("queue", "message_too_large", "Queue message is too large.");
/// The message was queued but not completed within the wait timeout; it stays queued.
pub const QUEUE_TIMED_OUT: ErrorCode = ErrorCode::new(
    "queue",
    "timed_out",
    "Timed out waiting for queue message completion.",
);
/// The encoding asked for is not json, cbor or bare.
pub const UNSUPPORTED_ENCODING: ErrorCode = ErrorCode::new(
    "protocol",
    "unsupported_encoding",
    "Unsupported protocol encoding.",
);
/// A message or request body is larger than the server accepts.
pub const INCOMING_TOO_LONG: ErrorCode =
    ErrorCode::new("message", "incoming_too_long", "Incoming message too long.");
/// A request body stalled: no part of it arrived within the server's body read timeout.
pub const INCOMING_TIMED_OUT: ErrorCode =
    ErrorCode::new("message", "incoming_timed_out", "The request body stalled.");
/// A response or event is larger than the server sends.
pub const OUTGOING_TOO_LONG: ErrorCode =
    ErrorCode::new("message", "outgoing_too_long", "Outgoing message too long.");
/// A connection's client read its messages too slowly: the server's queue for it filled up
/// and the connection was closed (the client may reconnect).
pub const SLOW_CONSUMER: ErrorCode = ErrorCode::new(
    "ws",
    "slow_consumer",
    "The connection was closed: its client read messages too slowly.",
);
/// A WebSocket's peer answered no ping (or took no message) within the server's liveness
/// timeout, and was closed.
pub const WS_TIMED_OUT: ErrorCode = ErrorCode::new(
    "ws",
    "timed_out",
    "The connection was closed: its peer stopped responding.",
);
/// The server is going away (shutting down or restarting the actor); clients reconnect.
pub const GOING_AWAY: ErrorCode = ErrorCode::new("ws", "going_away", "The server is going away.");
/// An actor key is larger (in bytes or parts) than the server accepts.
pub const KEY_TOO_LARGE: ErrorCode =
    ErrorCode::new("actor", "key_too_large", "The actor key is too large.");
/// An actor name is longer than the server accepts.
pub const NAME_TOO_LONG: ErrorCode =
    ErrorCode::new("actor", "name_too_long", "The actor name is too long.");
/// Actors are being created faster than the server allows; retry later.
pub const CREATION_LIMITED: ErrorCode = ErrorCode::new(
    "actor",
    "creation_limited",
    "Too many actors are being created; retry later.",
);
/// The actor has as many open connections as the server allows.
pub const TOO_MANY_CONNECTIONS: ErrorCode = ErrorCode::new(
    "actor",
    "too_many_connections",
    "The actor has too many open connections.",
);
/// The request carries no token, or not the server's (see the server's `token` option).
pub const UNAUTHORIZED: ErrorCode = ErrorCode::new(
    "auth",
    "unauthorized",
    "The request needs the server's token.",
);
/// The registry is shut down.
pub const SHUT_DOWN: ErrorCode = ErrorCode::new("registry", "shut_down", "Registry is shut down.");
/// A failure whose detail is not shown to callers; the server logs it.
pub const INTERNAL_ERROR: ErrorCode = ErrorCode::new(
    "core",
    "internal_error",
    "Internal error. Read the server logs for more details.",
);
/// The client could not encode a request or decode a response.
pub const CLIENT_CODEC: ErrorCode = ErrorCode::new(
    "client",
    "codec",
    "The client could not encode or decode a message.",
);
/// The connection to the actor is closed.
pub const CONNECTION_CLOSED: ErrorCode =
    ErrorCode::new("client", "connection_closed", "The connection is closed.");
/// The endpoint is not a URL this client can reach.
pub const INVALID_ENDPOINT: ErrorCode = ErrorCode::new(
    "client",
    "invalid_endpoint",
    "The endpoint must be an http:// URL.",
);

/// Codes of `cx.kv()`.
pub mod kv {
    use super::ErrorCode;

    /// A key longer than 2048 bytes (`rivet_core::kv::MAX_KEY_SIZE`).
    pub const KEY_TOO_LARGE: ErrorCode =
        ErrorCode::new("kv", "key_too_large", "The key is larger than 2048 bytes.");
    /// A value larger than 131072 bytes (`rivet_core::kv::MAX_VALUE_SIZE`).
    pub const VALUE_TOO_LARGE: ErrorCode = ErrorCode::new(
        "kv",
        "value_too_large",
        "The value is larger than 131072 bytes.",
    );
    /// A batch of more than 128 keys (`rivet_core::kv::MAX_BATCH_KEYS`).
    pub const BATCH_TOO_LARGE: ErrorCode =
        ErrorCode::new("kv", "batch_too_large", "A batch has more than 128 keys.");
    /// A stored value that is not the CBOR of the requested type.
    pub const INVALID_VALUE: ErrorCode = ErrorCode::new(
        "kv",
        "invalid_value",
        "The stored value does not decode as the requested type.",
    );
}

/// Codes of `cx.db()`, the actor database.
pub mod db {
    use super::ErrorCode;

    /// SQLite refused a statement (a syntax error, a constraint, ...); the message says why.
    pub const SQL_ERROR: ErrorCode = ErrorCode::new("db", "sql_error", "The SQL statement failed.");
    /// A parameter that SQLite cannot bind (a map or a list).
    pub const INVALID_PARAMETER: ErrorCode = ErrorCode::new(
        "db",
        "invalid_parameter",
        "A parameter is not a number, text, bytes, boolean or null.",
    );
    /// A row that does not decode as the requested type.
    pub const INVALID_ROW: ErrorCode = ErrorCode::new(
        "db",
        "invalid_row",
        "A row does not decode as the requested type.",
    );
    /// `cx.db()` on an actor that declares no migrations.
    pub const NOT_CONFIGURED: ErrorCode = ErrorCode::new(
        "db",
        "not_configured",
        "This actor has no database: declare it with #[actor(migrations = ...)].",
    );
    /// A migration failed; the actor cannot start.
    pub const MIGRATION_FAILED: ErrorCode =
        ErrorCode::new("db", "migration_failed", "A database migration failed.");
    /// A transaction begun with `BEGIN` was still open at the end of the turn.
    pub const TRANSACTION_OPEN: ErrorCode = ErrorCode::new(
        "db",
        "transaction_open",
        "A transaction was left open at the end of the turn.",
    );
}

/// Codes of durable workflows (`RunCx::workflow`).
pub mod workflow {
    use super::ErrorCode;

    /// The code reached an entry that does not match the recorded history at its position.
    pub const HISTORY_DIVERGED: ErrorCode = ErrorCode::new(
        "workflow",
        "history_diverged",
        "The workflow no longer matches its recorded history.",
    );
    /// A step failed on every attempt; the message has the last error.
    pub const STEP_FAILED: ErrorCode =
        ErrorCode::new("workflow", "step_failed", "A workflow step failed.");
    /// An attempt of a step ran longer than its timeout.
    pub const STEP_TIMED_OUT: ErrorCode =
        ErrorCode::new("workflow", "step_timed_out", "A workflow step timed out.");
    /// An entry or branch name that is empty, too long, or contains `/` or NUL.
    pub const INVALID_NAME: ErrorCode = ErrorCode::new(
        "workflow",
        "invalid_name",
        "Workflow names must be 1 to 256 bytes without '/' or NUL.",
    );
    /// Two entries of one scope (or two branches) with the same name.
    pub const DUPLICATE_NAME: ErrorCode = ErrorCode::new(
        "workflow",
        "duplicate_name",
        "Two workflow entries in one scope have the same name.",
    );
    /// A record of a race's losing branch (or of a failed join's other branches), refused
    /// because the race was decided; nobody sees it but the branch that is gone.
    pub const BRANCH_CANCELLED: ErrorCode =
        ErrorCode::new("workflow", "branch_cancelled", "The branch was cancelled.");
    /// A race without branches.
    pub const NO_BRANCHES: ErrorCode = ErrorCode::new(
        "workflow",
        "no_branches",
        "A race needs at least one branch.",
    );
    /// A step result or loop state too large to record (`rivet_core::workflow::MAX_RECORD_SIZE`).
    pub const VALUE_TOO_LARGE: ErrorCode = ErrorCode::new(
        "workflow",
        "value_too_large",
        "The value is too large to record in the workflow history.",
    );
    /// Stored history this version cannot read.
    pub const CORRUPT_HISTORY: ErrorCode = ErrorCode::new(
        "workflow",
        "corrupt_history",
        "The stored workflow history cannot be read.",
    );
}

/// Codes of the inspector API (`/gateway/{actor}/inspector/...`).
pub mod inspector {
    use super::ErrorCode;

    /// An inspector request without a valid bearer token (HTTP 401); RivetKit's own code and
    /// message.
    pub const UNAUTHORIZED: ErrorCode = ErrorCode::new(
        "inspector",
        "unauthorized",
        "Inspector request requires a valid bearer token",
    );

    /// A workflow replay asked for while the workflow runs (HTTP 409); RivetKit's own code and
    /// message.
    pub const WORKFLOW_IN_FLIGHT: ErrorCode = ErrorCode::new(
        "actor",
        "workflow_in_flight",
        "Workflow replay is unavailable while the workflow is currently in flight.",
    );
}

/// Codes of the gateway: paths and `rvt-*` query parameters that name no actor.
pub mod guard {
    use super::ErrorCode;

    /// An `rvt-*` parameter that is unknown, missing or has a bad value.
    pub const QUERY_INVALID: ErrorCode = ErrorCode::new(
        "guard",
        "query_invalid_params",
        "Invalid gateway query parameters.",
    );
    /// An `rvt-*` parameter given twice.
    pub const QUERY_DUPLICATE: ErrorCode = ErrorCode::new(
        "guard",
        "query_duplicate_param",
        "Duplicate gateway query parameter.",
    );
    /// `rvt-method=get` with parameters only creation takes.
    pub const QUERY_GET_DISALLOWED: ErrorCode = ErrorCode::new(
        "guard",
        "query_get_disallowed_params",
        "`rvt-method=get` does not take input, region, crash policy or runner.",
    );
    /// `rvt-method=getOrCreate` without `rvt-runner` or `rvt-pool`.
    pub const QUERY_MISSING_POOL: ErrorCode = ErrorCode::new(
        "guard",
        "query_missing_pool",
        "`rvt-method=getOrCreate` needs `rvt-runner` or `rvt-pool`.",
    );
    /// A query gateway path with an empty actor name.
    pub const QUERY_EMPTY_NAME: ErrorCode = ErrorCode::new(
        "guard",
        "query_empty_actor_name",
        "The actor name is empty.",
    );
    /// A query gateway path with an `@token` segment.
    pub const QUERY_TOKEN_SYNTAX: ErrorCode = ErrorCode::new(
        "guard",
        "query_path_token_syntax",
        "A query gateway path names an actor type, so it cannot carry `@token`; use `rvt-token`.",
    );
    /// A bad `%XX` escape (or invalid UTF-8) in the actor segment or a parameter.
    pub const QUERY_BAD_ENCODING: ErrorCode = ErrorCode::new(
        "guard",
        "query_invalid_percent_encoding",
        "Invalid percent-encoding.",
    );
    /// `rvt-input` that is not unpadded base64url.
    pub const QUERY_BAD_BASE64: ErrorCode = ErrorCode::new(
        "guard",
        "query_invalid_base64_input",
        "`rvt-input` is not base64url without padding.",
    );
    /// `rvt-input` that is not valid (compat-encoded) CBOR.
    pub const QUERY_BAD_CBOR: ErrorCode = ErrorCode::new(
        "guard",
        "query_invalid_cbor_input",
        "`rvt-input` is not valid CBOR.",
    );
    /// The request's `Host` is not one this server answers to (a DNS-rebinding guard: a
    /// server on loopback answers only to loopback names unless configured otherwise).
    pub const HOST_NOT_ALLOWED: ErrorCode = ErrorCode::new(
        "guard",
        "host_not_allowed",
        "The request's Host is not allowed on this server.",
    );
    /// A browser WebSocket from an origin the server's CORS settings do not allow.
    pub const ORIGIN_NOT_ALLOWED: ErrorCode = ErrorCode::new(
        "guard",
        "origin_not_allowed",
        "The request's Origin is not allowed on this server.",
    );
    /// A path that is no route of the server (or a gateway path that names no actor).
    pub const NO_ROUTE: ErrorCode = ErrorCode::new("guard", "no_route", "No route for this path.");
}

/// Codes of a Rivet Engine (runner mode) that this project acts on.
pub mod engine {
    use super::ErrorCode;

    /// The engine created an actor for a `getOrCreate` or `create`, then lost its key to a
    /// concurrent creation and destroyed it: the request reached no actor. The network client
    /// retries such a request, which then finds the actor that holds the key.
    pub const DESTROYED_DURING_CREATION: ErrorCode = ErrorCode::new(
        "actor",
        "destroyed_during_creation",
        "Actor was destroyed during creation.",
    );
    /// An envoy got traffic for an actor it does not run (any more); the engine's gateway
    /// retries it elsewhere, so a client sees it only if the actor never came back.
    pub const ENVOY_ACTOR_NOT_FOUND: ErrorCode =
        ErrorCode::new("envoy", "actor_not_found", "Actor not found");
}

/// Every code above and in the submodules, in declaration order.
pub const ALL: &[ErrorCode] = &[
    ACTOR_NOT_FOUND,
    ACTION_NOT_FOUND,
    DUPLICATE_KEY,
    NOT_REGISTERED,
    VALIDATION_ERROR,
    MISSING_INPUT,
    ACTION_TIMED_OUT,
    CALL_CYCLE,
    OVERLOADED,
    INVALID_REQUEST,
    DROPPED_REPLY,
    STATE_TOO_LARGE,
    QUEUE_NOT_FOUND,
    QUEUE_FULL,
    QUEUE_MESSAGE_TOO_LARGE,
    QUEUE_TIMED_OUT,
    UNSUPPORTED_ENCODING,
    INCOMING_TOO_LONG,
    INCOMING_TIMED_OUT,
    OUTGOING_TOO_LONG,
    SLOW_CONSUMER,
    WS_TIMED_OUT,
    GOING_AWAY,
    KEY_TOO_LARGE,
    NAME_TOO_LONG,
    CREATION_LIMITED,
    TOO_MANY_CONNECTIONS,
    UNAUTHORIZED,
    SHUT_DOWN,
    INTERNAL_ERROR,
    CLIENT_CODEC,
    CONNECTION_CLOSED,
    INVALID_ENDPOINT,
    kv::KEY_TOO_LARGE,
    kv::VALUE_TOO_LARGE,
    kv::BATCH_TOO_LARGE,
    kv::INVALID_VALUE,
    db::SQL_ERROR,
    db::INVALID_PARAMETER,
    db::INVALID_ROW,
    db::NOT_CONFIGURED,
    db::MIGRATION_FAILED,
    db::TRANSACTION_OPEN,
    workflow::HISTORY_DIVERGED,
    workflow::STEP_FAILED,
    workflow::STEP_TIMED_OUT,
    workflow::INVALID_NAME,
    workflow::DUPLICATE_NAME,
    workflow::BRANCH_CANCELLED,
    workflow::NO_BRANCHES,
    workflow::VALUE_TOO_LARGE,
    workflow::CORRUPT_HISTORY,
    inspector::UNAUTHORIZED,
    inspector::WORKFLOW_IN_FLIGHT,
    guard::QUERY_INVALID,
    guard::QUERY_DUPLICATE,
    guard::QUERY_GET_DISALLOWED,
    guard::QUERY_MISSING_POOL,
    guard::QUERY_EMPTY_NAME,
    guard::QUERY_TOKEN_SYNTAX,
    guard::QUERY_BAD_ENCODING,
    guard::QUERY_BAD_BASE64,
    guard::QUERY_BAD_CBOR,
    guard::HOST_NOT_ALLOWED,
    guard::ORIGIN_NOT_ALLOWED,
    guard::NO_ROUTE,
    engine::DESTROYED_DURING_CREATION,
    engine::ENVOY_ACTOR_NOT_FOUND,
];

#[cfg(test)]
mod tests {
    use std::collections::HashSet;

    use super::ALL;

    const DOCUMENT: &str = include_str!("../ERROR_CODES.md");

    /// The `group.code` of every row of the document's tables.
    fn documented() -> Vec<&'static str> {
        DOCUMENT
            .lines()
            .filter_map(|line| line.strip_prefix("| `"))
            .filter_map(|rest| rest.split_once('`'))
            .map(|(code, _)| code)
            .collect()
    }

    #[test]
    fn every_declared_code_is_in_all_once() {
        let source = include_str!("codes.rs");
        let declarations = source
            .split("#[cfg(test)]")
            .next()
            .unwrap_or(source)
            .matches("ErrorCode::new(")
            .count();
        assert_eq!(
            declarations,
            ALL.len(),
            "a code is declared but missing from ALL"
        );
        let unique: HashSet<String> = ALL.iter().map(ToString::to_string).collect();
        assert_eq!(unique.len(), ALL.len(), "a code is in ALL twice");
    }

    #[test]
    fn the_document_lists_every_code_and_no_other() {
        let documented = documented();
        for code in ALL {
            let code = code.to_string();
            assert!(
                documented.contains(&code.as_str()),
                "`{code}` is missing from ERROR_CODES.md"
            );
        }
        let known: HashSet<String> = ALL.iter().map(ToString::to_string).collect();
        for code in &documented {
            assert!(
                known.contains(*code),
                "ERROR_CODES.md lists `{code}`, which ALL lacks"
            );
        }
        assert_eq!(
            documented.len(),
            ALL.len(),
            "ERROR_CODES.md lists a code twice"
        );
    }
}
