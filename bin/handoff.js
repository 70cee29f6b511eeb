#!/usr/bin/env node
// The CLI is TypeScript compiled into dist/ by "npm run build".
import { existsSync } from 'node:fs'

const main = new URL('../dist/cli/main.js', import.meta.url)
if (!existsSync(main)) {
  process.stderr.write('handoff: not built yet; run "npm run build" in the handoff folder first\n')
  process.exit(1)
}
await import(main.href)
