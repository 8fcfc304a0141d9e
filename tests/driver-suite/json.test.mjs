import { runEncoding } from "./run.mjs";

await runEncoding("json");
