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
		// RivetKit's own config: 10 s a test (a few tests set their own, up to 180 s). Each test
		// starts its own server process (server.mjs).
		testTimeout: 10_000,
		hookTimeout: 10_000,
		pool: "forks",
		poolOptions: {
			// One worker per encoding file: the tests mostly wait (on sleep timeouts), so three
			// at once fit two cores.
			forks: { execArgv: ["--experimental-websocket"], maxForks: 3, minForks: 1 },
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
