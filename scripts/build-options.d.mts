import type { BuildOptions } from 'esbuild';

/** Every bundle of src/: ESM for Node 20, dependencies left to node_modules. */
export const common: BuildOptions;
/** A Node entry (the server, the CLI) into an outdir as `<entry>.mjs`, split into chunks. */
export const nodeEntry: BuildOptions;
