// The pass table: file by encoding, from vitest's JSON report (results/vitest.json). Prints it
// and writes results/table.md (the table COMPATIBILITY.md keeps) and results/failures.txt (each
// failing test with the first line of its error).
import { readFileSync, writeFileSync } from "node:fs";
import { ENCODINGS, FILES } from "./suite.mjs";

const report = JSON.parse(readFileSync(new URL("./results/vitest.json", import.meta.url)));
const counts = new Map();
const failures = [];
for (const file of report.testResults) {
	for (const t of file.assertionResults) {
		const group = /^(\S+) \((\w+)\)$/.exec(t.ancestorTitles[0] ?? "");
		if (!group) continue;
		const [, name, encoding] = group;
		const key = `${name}/${encoding}`;
		const c = counts.get(key) ?? { passed: 0, failed: 0, skipped: 0 };
		if (t.status === "passed") c.passed++;
		else if (t.status === "failed") {
			c.failed++;
			const first = (t.failureMessages?.[0] ?? "").split("\n")[0];
			failures.push(`${name} (${encoding}) > ${t.ancestorTitles.slice(1).concat(t.title).join(" > ")}: ${first}`);
		} else c.skipped++;
		counts.set(key, c);
	}
}

const cell = (c) => (c ? `${c.passed} / ${c.failed} / ${c.skipped}` : "-");
const lines = [
	`| File | ${ENCODINGS.map((e) => `${e} (passed / failed / skipped)`).join(" | ")} |`,
	`|---|${ENCODINGS.map(() => "---").join("|")}|`,
];
const total = Object.fromEntries(ENCODINGS.map((e) => [e, { passed: 0, failed: 0, skipped: 0 }]));
for (const f of FILES) {
	const row = ENCODINGS.map((e) => counts.get(`${f.file}/${e}`));
	if (row.every((c) => !c)) continue;
	ENCODINGS.forEach((e, i) => {
		for (const k of ["passed", "failed", "skipped"]) total[e][k] += row[i]?.[k] ?? 0;
	});
	lines.push(`| ${f.file} | ${row.map(cell).join(" | ")} |`);
}
lines.push(`| **total** | ${ENCODINGS.map((e) => `**${cell(total[e])}**`).join(" | ")} |`);
const table = `${lines.join("\n")}\n`;
process.stdout.write(table);
writeFileSync(new URL("./results/table.md", import.meta.url), table);
writeFileSync(new URL("./results/failures.txt", import.meta.url), failures.join("\n") + "\n");
if (failures.length) process.stdout.write(`\n${failures.length} failing (results/failures.txt)\n`);
