use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor(nmae = "counter", migration = &[], icon = "x")]
impl Counter {
    #[acton]
    fn increment(&mut self, by: i64) -> i64 {
        self.count += by;
        self.count
    }

    #[on_wakeup]
    fn woke(&mut self) {}

    #[events]
    fn rang(times: u32);

    #[action]
    #[inline]
    fn get_count(&self) -> i64 {
        self.count
    }
}

fn main() {}
