use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[action]
    fn on_new_count(&self) {}

    #[event]
    fn new_count(count: i64);
}

fn main() {}
