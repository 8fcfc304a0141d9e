use rivet_core::prelude::*;

#[derive(Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[action]
    fn get_count(&self) -> i64 {
        self.count
    }
}

fn main() {}
