// RivetKit 2.3.19 (TypeScript, the pinned `rivetkit` of this folder) serving a `counter` as an
// envoy of the Rivet Engine named by RIVET_ENDPOINT, in the pool named by RIVET_POOL: the
// baseline of the runner-mode benchmark (tests/benches/engine.rs). The counter has the
// actions of the Rust example's (`increment(amount)`, `getCount()`). Prints `ready` once the
// engine accepted the envoy; stops on SIGTERM.
import { actor, setup } from "rivetkit";

const counter = actor({
	state: { count: 0 },
	actions: {
		increment: (c, amount) => {
			c.state.count += amount;
			c.broadcast("newCount", c.state.count);
			return c.state.count;
		},
		getCount: (c) => c.state.count,
	},
});

const registry = setup({ use: { counter }, noWelcome: true });
await registry.startAndWait();
console.log("ready");
