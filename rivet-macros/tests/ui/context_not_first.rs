use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[action]
    fn increment(&mut self, amount: i64, cx: &mut Cx<Self>) -> i64 {
        let _ = cx;
        self.count += amount;
        self.count
    }
}

fn main() {}
