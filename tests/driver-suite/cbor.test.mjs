import { runEncoding } from "./run.mjs";

await runEncoding("cbor");
