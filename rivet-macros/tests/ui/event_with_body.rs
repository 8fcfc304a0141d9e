use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[event]
    fn new_count(count: i64) {
        let _ = count;
    }
}

fn main() {}
