use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[create]
    fn create() -> Self {
        Self { count: 0 }
    }

    #[create]
    fn create_again(start: i64) -> Self {
        Self { count: start }
    }
}

fn main() {}
