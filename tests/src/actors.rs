//! The test actors, one file each, re-exported here with their generated clients and events.

mod backlog;
mod bloat;
mod chores;
mod drain;
mod ended;
mod flow;
mod kicker;
mod ledger;
mod lobby;
mod marker;
mod pipeline;
mod probe;
mod racer;
mod relay;
mod renamer;
mod schema;
mod store;
mod timer;

pub use backlog::*;
pub use bloat::*;
pub use chores::*;
pub use drain::*;
pub use ended::workflow_ended;
pub use flow::*;
pub use kicker::*;
pub use ledger::*;
pub use lobby::*;
pub use marker::*;
pub use pipeline::*;
pub use probe::*;
pub use racer::*;
pub use relay::*;
pub use renamer::*;
pub use schema::*;
pub use store::*;
pub use timer::*;
