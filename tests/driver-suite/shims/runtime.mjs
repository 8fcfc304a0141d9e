// `src/registry/index.ts` imports `Runtime` from the repository's `runtime` folder, which the
// npm package does not ship. The suite never starts a registry here (the server is Rust), so
// a stand-in that fails loudly if something does is enough.
export class Runtime {
	constructor() {
		throw new Error("the driver suite harness does not run RivetKit's runtime");
	}
}
