#!/usr/bin/env node
// Committed launcher so the command exists right after install; the code is built to dist/.
import '../dist/cli.js'
