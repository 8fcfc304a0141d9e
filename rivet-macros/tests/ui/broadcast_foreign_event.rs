use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Counter {
    count: i64,
}

#[actor]
impl Counter {
    #[action]
    fn increment(&mut self, cx: &mut Cx<Self>) {
        self.count += 1;
        cx.broadcast(RoomEvent::Joined(self.count));
    }

    #[event]
    fn new_count(count: i64);
}

#[derive(Default, Serialize, Deserialize)]
pub struct Room {}

#[actor]
impl Room {
    #[event]
    fn joined(count: i64);
}

fn main() {}
