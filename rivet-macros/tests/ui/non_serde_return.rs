use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

pub struct NotSerde;

#[actor]
impl Counter {
    #[action]
    fn snapshot(&self) -> NotSerde {
        NotSerde
    }
}

fn main() {}
