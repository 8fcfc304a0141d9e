import { runEncoding } from "./run.mjs";

await runEncoding("bare");
