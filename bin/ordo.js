#!/usr/bin/env node
// The `ordo` command: the compiled CLI (`npm run build` writes dist/; `npm install` and
// `npm pack` run it through `prepare`). The repository's tests run src/cli/bin.ts instead.
import '../dist/cli/bin.js';
