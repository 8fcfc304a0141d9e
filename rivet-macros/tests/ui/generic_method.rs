use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[action]
    fn set<T: Into<i64>>(&mut self, value: T) {
        self.count = value.into();
    }
}

fn main() {}
