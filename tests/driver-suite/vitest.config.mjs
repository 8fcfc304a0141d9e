// Runs RivetKit's driver test suite from node_modules against the Rust fixture server.
//
// The suite is TypeScript under node_modules/rivetkit/src and imports its own sources as `@/...`
// (RivetKit's tsconfig alias) and a few constants from `fixtures/driver-test-suite/*`, which the
// npm package does not ship: `fixtures/` here holds those constants, with the values of the
// compiled fixture registry (dist/tsup/serve-test-suite).
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const here = (p) => fileURLToPath(new URL(p, import.meta.url));

export default defineConfig({
	resolve: {
		alias: [
			{
				find: /^(?:\.\.\/)+fixtures\/driver-test-suite\/(.*)$/,
				replacement: here("./fixtures/$1.mjs"),
			},
			{ find: /^(?:\.\.\/)+runtime$/, replacement: here("./shims/runtime.mjs") },
			{ find: /^@\/(.*)$/, replacement: here("./node_modules/rivetkit/src/$1") },
		],
	},
	test: {
		include: ["*.test.mjs"],
		// Each test starts its own server process (server.mjs). RivetKit's own config gives a
		// test 10 s; a slower machine gets more room. A few tests set their own (up to 180 s).
		testTimeout: 30_000,
		hookTimeout: 30_000,
		pool: "forks",
		poolOptions: {
			forks: { execArgv: ["--experimental-websocket"] },
		},
		server: {
			// The suite's sources are TypeScript inside node_modules: transform them rather than
			// hand them to Node.
			deps: { inline: [/rivetkit[\\/]src/] },
		},
		reporters: ["default", "json"],
		outputFile: { json: "./results/vitest.json" },
	},
});
