#!/usr/bin/env node
import { main } from './dispatch.js';
import { EXIT } from './exit-codes.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
    // A `serve` cluster worker whose start failed: its IPC channel to the primary must not keep it alive (while
    // it starts, the channel must hold it: a worker's listen() waits on it for the primary's listening handle).
    process.channel?.unref();
  },
  (err: unknown) => {
    // Not a known error: a bug. The stack is what a bug report needs.
    process.stderr.write(`mesh-authz: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = EXIT.failure;
    process.channel?.unref();
  },
);
