use rivet_core::prelude::*;
use rivet_core::run::RunCx;

#[derive(Default, Serialize, Deserialize)]
pub struct Worker;

#[actor(name = "worker")]
impl Worker {
    #[run]
    fn run(cx: RunCx<Self>) {
        let _ = cx;
    }
}

#[derive(Default, Serialize, Deserialize)]
pub struct Other;

#[actor(name = "other")]
impl Other {
    #[run]
    async fn run(&self, cx: RunCx<Self>) -> u32 {
        let _ = cx;
        1
    }

    #[queue]
    fn jobs(&self, job: u32, extra: u32);
}

fn main() {}
