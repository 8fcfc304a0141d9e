use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[on_wake]
    fn woke(&mut self, times: u32) {
        let _ = times;
    }
}

fn main() {}
