use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[action]
    fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }
}

fn main() {}
