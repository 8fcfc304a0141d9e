use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[action]
    fn get_count(&self) -> i64 {
        self.count
    }

    #[action(name = "getCount")]
    fn count_again(&self) -> i64 {
        self.count
    }
}

fn main() {}
