//! The error codes of workflows (group `workflow`).

use rivet_client::ErrorCode;

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
/// A step result or loop state too large to record ([`MAX_RECORD_SIZE`](super::MAX_RECORD_SIZE)).
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
