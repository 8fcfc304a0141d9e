use rivet_core::prelude::*;

#[derive(Default, Serialize, Deserialize)]
pub struct Jobs {
    done: u32,
}

#[actor]
impl Jobs {
    #[action]
    fn finish(&mut self, cx: Cx<Self>, id: u32) -> u32 {
        let _ = (cx, id);
        self.done += 1;
        self.done
    }

    #[queue]
    fn work(&mut self, cx: Cx<Self>, job: u32) {
        let _ = (cx, job);
    }
}

fn main() {}
