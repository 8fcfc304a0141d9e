use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[action]
    fn increment(self, amount: i64) -> i64 {
        self.count + amount
    }
}

fn main() {}
