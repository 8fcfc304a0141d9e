use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Bell {
    rings: u32,
}

#[actor]
impl Bell {
    #[action]
    fn ring(&mut self, cx: &mut Cx<Self>) {
        self.rings += 1;
        cx.broadcast(BellEvent::Rang(self.rings));
        cx.broadcast(BellEvent::Ringign(self.rings));
    }

    #[event]
    fn ringing(rings: u32);
}

fn main() {}
