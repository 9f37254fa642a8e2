#!/usr/bin/env node
// The `ordo` command: the compiled CLI (`npm run build` writes dist/; `npm install` and
// `npm pack` run it through `prepare`).
import '../dist/cli/bin.js';
