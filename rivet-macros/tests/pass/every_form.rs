//! Every supported shape of the actor definition compiles.
use rivet_core::prelude::*;

#[derive(Serialize, Deserialize)]
pub struct Everything {
    value: i64,
}

#[derive(Serialize, Deserialize)]
pub struct Input {
    start: i64,
}

pub struct Vars {
    calls: u32,
}

#[derive(Serialize, Deserialize)]
pub struct Job {
    n: i64,
}

#[actor(name = "everything", display_name = "Every Form", icon = "star")]
impl Everything {
    #[create]
    async fn create(cx: &CreateCx, input: Input) -> Result<Self, UserError> {
        let _ = cx.key();
        Ok(Self { value: input.start })
    }

    #[vars]
    fn vars(cx: &CreateCx) -> Result<Vars, std::io::Error> {
        let _ = cx.actor_id();
        Ok(Vars { calls: 0 })
    }

    #[on_create]
    async fn on_create(&mut self, cx: &mut Cx<Self>) -> Result<(), UserError> {
        cx.vars_mut().calls += 1;
        Ok(())
    }

    #[on_wake]
    fn on_wake(&self) {}

    #[on_sleep]
    fn on_sleep(&mut self, cx: &Cx<Self>) {
        let _ = cx.name();
    }

    #[on_destroy]
    async fn on_destroy(&self) -> Result<(), Error> {
        Ok(())
    }

    #[on_state_change]
    fn on_state_change(&self, cx: &mut Cx<Self>) {
        cx.broadcast(EverythingEvent::Changed(self.value));
    }

    #[action]
    fn plain(&self) -> i64 {
        self.value
    }

    #[action]
    async fn async_mut(&mut self, cx: &mut Cx<Self>, a: i64, b: Option<String>, c: Vec<(u8, bool)>) -> i64 {
        let _ = (b, c, cx.vars().calls);
        self.value += a;
        self.value
    }

    #[action]
    fn fallible(&self, fail: bool) -> Result<(), UserError> {
        if fail { Err(UserError::message("no")) } else { Ok(()) }
    }

    #[action]
    fn io_error(&self) -> std::io::Result<String> {
        Ok(String::new())
    }

    #[action(name = "renamed")]
    fn r#type(&self, mut n: u64) -> u64 {
        n += 1;
        n
    }

    #[action]
    fn actor_error(&self) -> Result<(), ActorError> {
        Ok(())
    }

    #[queue]
    async fn jobs(&mut self, cx: &mut Cx<Self>, job: Job) -> Result<i64, UserError> {
        cx.broadcast(EverythingEvent::Nothing);
        self.value += job.n;
        Ok(self.value)
    }

    #[queue(name = "other-jobs")]
    fn other(&mut self, job: Job) {
        self.value -= job.n;
    }

    /// A helper method without an attribute stays an ordinary method.
    fn helper(&self) -> i64 {
        self.value
    }

    #[event]
    fn changed(value: i64);

    #[event]
    fn nothing();

    #[event(name = "many")]
    fn several(a: String, b: Vec<u8>, c: Option<i64>);
}

fn main() {
    let _ = Everything { value: 1 }.helper();
    let _ = EverythingEvent::Several { a: String::new(), b: vec![], c: None };
    fn client_methods(client: EverythingClient) {
        let _ = client.plain();
        let _ = client.async_mut(1, None, vec![]);
        let _ = client.r#type(1);
        let _ = client.send_jobs(Job { n: 1 });
        let _ = client.send_other(Job { n: 1 });
    }
    let _ = client_methods;
}
