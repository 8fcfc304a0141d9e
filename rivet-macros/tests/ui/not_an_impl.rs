use rivet_core::prelude::*;

#[actor]
#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

fn main() {}
