// Starts the Rust fixture server (tests/driver-fixtures) for one test: a fresh process on a free
// port with an empty data directory, as RivetKit's own harness gives each test a fresh registry.
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";

const BINARY = process.env.RIVET_DRIVER_SERVER;

/** Starts a server; resolves to RivetKit's `DriverDeployOutput` ({ endpoint, cleanup, ... }). */
export async function startServer() {
	if (!BINARY) {
		throw new Error(
			"RIVET_DRIVER_SERVER is not set (the path of the driver_fixtures binary): run the suite with scripts/driver-suite, or its slice with cargo test -p rivet-tests --test driver_suite",
		);
	}
	const dataDir = await mkdtemp(join(tmpdir(), "rivet-driver-"));
	const child = spawn(BINARY, [], {
		env: {
			...process.env,
			RIVET_ADDR: "127.0.0.1:0",
			RIVET_DATA_DIR: dataDir,
			// Test-only routes (force-disconnect) and the fixed inspector token the suite uses.
			RIVET_DRIVER_TEST: "1",
			RUST_LOG: process.env.RUST_LOG ?? "warn",
		},
		stdio: ["ignore", "pipe", "inherit"],
	});
	const exited = new Promise((resolve) => child.once("exit", resolve));
	const endpoint = await new Promise((resolve, reject) => {
		const lines = createInterface({ input: child.stdout });
		lines.on("line", (line) => {
			const m = /^listening (http:\/\/\S+)$/.exec(line);
			if (m) resolve(m[1]);
		});
		child.once("error", reject);
		child.once("exit", (code) =>
			reject(new Error(`fixture server exited (${code}) before listening`)),
		);
	});
	return {
		endpoint,
		namespace: "default",
		runnerName: "default",
		async cleanup() {
			child.kill("SIGTERM");
			await exited;
			await rm(dataDir, { recursive: true, force: true });
		},
	};
}
