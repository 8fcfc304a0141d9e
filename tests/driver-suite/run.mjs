// RivetKit 2.2.1's driver test suite, file by file, in one encoding, against the Rust fixture
// server: `describe("<file> (<encoding>)")` names each group for the pass table (summary.mjs).
// One entry file per encoding (bare.test.mjs, ...) so vitest runs the encodings in parallel.
import { describe } from "vitest";
import { startServer } from "./server.mjs";
import { selected } from "./suite.mjs";

/** Declares the selected files' tests for `encoding`, unless DRIVER_ENCODINGS leaves it out. */
export async function runEncoding(encoding) {
	const { files, encodings } = selected();
	if (!encodings.includes(encoding)) return;
	const modules = await Promise.all(
		files.map(async (f) => ({
				...f,
				mod: await import(`./node_modules/rivetkit/src/driver-test-suite/tests/${f.file}.ts`),
			})),
	);
	for (const { file, run, mod } of modules) {
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
