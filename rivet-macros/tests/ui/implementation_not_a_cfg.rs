use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor(implementation = "server")]
impl Counter {
    #[action]
    fn get_count(&self) -> i64 {
        self.count
    }
}

fn main() {}
