use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[queue]
    fn jobs(&mut self, a: i64, b: i64) {
        self.count += a + b;
    }
}

fn main() {}
