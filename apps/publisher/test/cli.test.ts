/**
 * The publisher CLI given bad input, run as a real process: it must exit non-zero with one line
 * on stderr that names the problem, and leave nothing behind (no data dir, no output).
 */
import { spawn } from 'node:child_process'
import { chmod, mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const PUBLISHER = fileURLToPath(new URL('../bin/publisher.js', import.meta.url))

interface Result { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

let root: string

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shoal-publisher-cli-'))
})

afterAll(async () => {
  await rm(root, { recursive: true, force: true })
})

/** A fresh directory per case: its own peers dir, data dir and input files */
async function caseDir (name: string): Promise<{ dir: string, dataDir: string, peersDir: string }> {
  const dir = join(root, name)
  const peersDir = join(dir, 'peers')
  await mkdir(peersDir, { recursive: true })
  return { dir, dataDir: join(dir, 'data'), peersDir }
}

/** Run the publisher to its exit (killed after `timeoutMs`) */
async function run (args: string[], opts: { cwd: string, peersDir: string, timeoutMs?: number }): Promise<Result> {
  const child = spawn(process.execPath, [PUBLISHER, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, SHOAL_PEERS_DIR: opts.peersDir, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const timer = setTimeout(() => { child.kill('SIGKILL') }, opts.timeoutMs ?? 30_000)
  try {
    return await new Promise<Result>((resolve, reject) => {
      child.on('error', reject)
      child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) })
    })
  } finally {
    clearTimeout(timer)
  }
}

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false)
}

/** Run `publisher <args>` with safe network/disk flags and check the one-line failure */
async function expectFailure (name: string, args: string[], problem: RegExp, setup?: (dir: string) => Promise<void>): Promise<Result> {
  const { dir, dataDir, peersDir } = await caseDir(name)
  await setup?.(dir)
  const before = await readdir(dir)
  const result = await run([...args, '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', dataDir], { cwd: dir, peersDir })
  expect(result.signal).toBeNull()
  expect(result.code).not.toBe(0)
  expect(result.code).not.toBeNull()
  const lines = result.stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^publisher: /)
  expect(lines[0]).toMatch(problem)
  expect(lines[0]).not.toMatch(/^\s+at /)
  // Nothing half-written: no id printed, no state created, no file left in the case dir.
  expect(result.stdout).toBe('')
  expect(await exists(dataDir)).toBe(false)
  expect(await readdir(dir)).toEqual(before)
  expect(await readdir(peersDir)).toEqual([])
  return result
}

async function withFile (dir: string): Promise<void> {
  await writeFile(join(dir, 'f.bin'), 'some bytes\n')
}

describe('publisher CLI rejects bad input with one clear line', () => {
  it('missing file', async () => {
    await expectFailure('missing-file', ['push', 'nope.bin'], /nope\.bin: no such file/)
  }, 30_000)

  it('a directory instead of a file', async () => {
    await expectFailure('directory', ['push', 'adir'], /adir is a directory/, async dir => { await mkdir(join(dir, 'adir')) })
  }, 30_000)

  it('push without a file', async () => {
    await expectFailure('push-no-file', ['push'], /missing file/)
  }, 30_000)

  it('no command', async () => {
    await expectFailure('no-command', [], /missing command/)
  }, 30_000)

  it('unknown command', async () => {
    await expectFailure('unknown-command', ['pull', 'f.bin'], /unknown command "pull"/, withFile)
  }, 30_000)

  it('unknown flag', async () => {
    await expectFailure('unknown-flag', ['push', 'f.bin', '--bogus'], /--bogus/, withFile)
  }, 30_000)

  it('bootstrap address that is not a multiaddr', async () => {
    await expectFailure('bad-bootstrap', ['push', 'f.bin', '--bootstrap', 'not-an-addr'], /bootstrap address "not-an-addr" is not a multiaddr/, withFile)
  }, 30_000)

  it('bootstrap address without /p2p/', async () => {
    await expectFailure('bootstrap-no-peer', ['push', 'f.bin', '--bootstrap', '/ip4/127.0.0.1/tcp/4010'], /lacks \/p2p\//, withFile)
  }, 30_000)

  it('--replicas that is not a number', async () => {
    await expectFailure('replicas-abc', ['push', 'f.bin', '--replicas', 'abc'], /--replicas must be an integer.*"abc"/, withFile)
  }, 30_000)

  it('--chunk-size out of range (too small and too large)', async () => {
    await expectFailure('chunk-size-small', ['push', 'f.bin', '--chunk-size', '10'], /--chunk-size must be an integer from 1024 to 4194304, got "10"/, withFile)
    await expectFailure('chunk-size-large', ['push', 'f.bin', '--chunk-size', '99999999'], /--chunk-size must be an integer from 1024 to 4194304/, withFile)
  }, 30_000)

  it('--timeout that is not a positive integer', async () => {
    await expectFailure('timeout-zero', ['push', 'f.bin', '--timeout', '0'], /--timeout must be an integer/, withFile)
  }, 30_000)

  const root_ = process.getuid?.() === 0
  ;(root_ ? it.skip : it)(`unreadable file${root_ ? ' (skipped: running as root, which can read any file)' : ''}`, async () => {
    await expectFailure('unreadable', ['push', 'secret.bin'], /secret\.bin: cannot be read \(EACCES\)/, async dir => {
      await writeFile(join(dir, 'secret.bin'), 'x')
      await chmod(join(dir, 'secret.bin'), 0o000)
    })
  }, 30_000)

  it('--help exits 0 with usage on stdout', async () => {
    const { dir, peersDir } = await caseDir('help')
    const result = await run(['--help'], { cwd: dir, peersDir })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: publisher push <file>/)
    expect(result.stderr).toBe('')
  }, 30_000)
})
