use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

pub trait Named {
    fn name(&self) -> i64;
}

#[actor]
impl Named for Counter {
    fn name(&self) -> i64 {
        self.count
    }
}

fn main() {}
