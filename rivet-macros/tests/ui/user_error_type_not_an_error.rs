use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

pub struct NotAnError;

#[actor]
impl Counter {
    #[action]
    fn get(&self) -> Result<i64, NotAnError> {
        Ok(self.count)
    }
}

fn main() {}
