use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[on_state_change]
    fn changed(&mut self) {
        self.count += 1;
    }
}

fn main() {}
