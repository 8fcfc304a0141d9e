use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

pub struct NotSerde;

#[actor]
impl Counter {
    #[action]
    fn increment(&mut self, amount: NotSerde) {
        let _ = amount;
    }
}

fn main() {}
