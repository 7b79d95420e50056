// Shared jest setup: TypeScript through @swc/jest in ES-module mode (libp2p is ESM-only,
// so jest runs with NODE_OPTIONS=--experimental-vm-modules).
import { fileURLToPath } from 'node:url'

const setup = fileURLToPath(new URL('./jest.setup.js', import.meta.url))

/** @type {import('jest').Config} */
export default {
  testEnvironment: 'node',
  extensionsToTreatAsEsm: ['.ts'],
  testMatch: ['<rootDir>/test/**/*.test.ts'],
  setupFiles: [setup],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['@swc/jest', {
      jsc: { parser: { syntax: 'typescript' }, target: 'es2022' },
      module: { type: 'es6' }
    }]
  }
}
