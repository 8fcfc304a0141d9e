use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

pub struct Wrapper<T>(T);

#[actor]
impl<T> Wrapper<T> {
    #[action]
    fn get(&self) -> i64 {
        0
    }
}

fn main() {}
