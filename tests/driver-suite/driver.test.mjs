// RivetKit 2.2.1's driver test suite, file by file and encoding by encoding, against the Rust
// fixture server: `describe("<file> (<encoding>)")` names each group for the pass table
// (summary.mjs).
import { describe } from "vitest";
import { startServer } from "./server.mjs";
import { selected } from "./suite.mjs";

const { files, encodings } = selected();

const modules = await Promise.all(
	files
		.filter((f) => !f.skip)
		.map(async (f) => ({
			...f,
			mod: await import(`./node_modules/rivetkit/src/driver-test-suite/tests/${f.file}.ts`),
		})),
);

for (const { file, run, mod } of modules) {
	for (const encoding of encodings) {
		describe(`${file} (${encoding})`, () => {
			mod[run]({
				start: startServer,
				useRealTimers: true,
				clientType: "http",
				encoding,
				skip: { inline: true, sandbox: true, agentOs: true },
			});
		});
	}
}
