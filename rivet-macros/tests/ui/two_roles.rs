use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[action]
    #[queue]
    fn jobs(&mut self, amount: i64) {
        self.count += amount;
    }
}

fn main() {}
