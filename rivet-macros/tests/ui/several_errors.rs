use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor(bogus = 1)]
impl Counter {
    #[action]
    fn by_value(self) {}

    #[action(rename = "x")]
    fn renamed(&self) {}

    #[event]
    fn with_body(count: i64) {
        let _ = count;
    }

    #[queue]
    fn no_message(&mut self) {}
}

fn main() {}
