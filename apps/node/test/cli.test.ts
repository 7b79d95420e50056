/**
 * shoal-node given bad input, run as a real process: it must exit non-zero with one line on
 * stderr that names the problem. Then a real node and a real publisher trade an empty file.
 */
import { spawn } from 'node:child_process'
import { createServer } from 'node:net'
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { AddressInfo, Server } from 'node:net'

const NODE_BIN = fileURLToPath(new URL('../bin/shoal-node.js', import.meta.url))
const PUBLISHER_BIN = fileURLToPath(new URL('../../publisher/bin/publisher.js', import.meta.url))

interface Result { code: number | null, signal: NodeJS.Signals | null, stdout: string, stderr: string }

interface Proc {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exited: Promise<Result>
}

let root: string
const procs: ChildProcess[] = []

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'shoal-node-cli-'))
})

afterAll(async () => {
  for (const p of procs) {
    if (p.exitCode == null && p.signalCode == null) p.kill('SIGKILL')
  }
  await rm(root, { recursive: true, force: true })
}, 30_000)

function start (bin: string, args: string[], opts: { cwd: string, peersDir: string }): Proc {
  // NODE_OPTIONS from jest (--experimental-vm-modules) would add a warning to the child's stderr.
  const child = spawn(process.execPath, [bin, ...args], {
    cwd: opts.cwd,
    env: { ...process.env, SHOAL_PEERS_DIR: opts.peersDir, NODE_OPTIONS: '' },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  procs.push(child)
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d })
  child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d })
  const exited = new Promise<Result>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', (code, signal) => { resolve({ code, signal, stdout, stderr }) })
  })
  exited.catch(() => {})
  return { child, stdout: () => stdout, stderr: () => stderr, exited }
}

/** Run to exit; killed (and so failing the test) after `timeoutMs` */
async function run (bin: string, args: string[], opts: { cwd: string, peersDir: string, timeoutMs?: number }): Promise<Result> {
  const p = start(bin, args, opts)
  const timer = setTimeout(() => { p.child.kill('SIGKILL') }, opts.timeoutMs ?? 30_000)
  try {
    return await p.exited
  } finally {
    clearTimeout(timer)
  }
}

async function waitFor (what: string, cond: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

async function exists (path: string): Promise<boolean> {
  return await stat(path).then(() => true, () => false)
}

async function caseDir (name: string): Promise<{ dir: string, dataDir: string, peersDir: string }> {
  const dir = join(root, name)
  const peersDir = join(dir, 'peers')
  await mkdir(peersDir, { recursive: true })
  return { dir, dataDir: join(dir, 'data'), peersDir }
}

/**
 * Run shoal-node with `args` (loopback listen and a temp data dir unless given) and check it
 * fails with one stderr line matching `problem` and prints nothing on stdout.
 */
async function expectFailure (name: string, args: string[], problem: RegExp, opts: { listen?: string, dataDir?: string } = {}): Promise<{ dataDir: string, result: Result }> {
  const c = await caseDir(name)
  const dataDir = opts.dataDir ?? c.dataDir
  const result = await run(NODE_BIN, [...args, '--no-mdns', '--listen', opts.listen ?? '/ip4/127.0.0.1/tcp/0', '--data-dir', dataDir], { cwd: c.dir, peersDir: c.peersDir })
  expect(result.signal).toBeNull()
  expect(result.code).not.toBe(0)
  expect(result.code).not.toBeNull()
  const lines = result.stderr.trim().split('\n')
  expect(lines).toHaveLength(1)
  expect(lines[0]).toMatch(/^shoal-node: /)
  expect(lines[0]).toMatch(problem)
  expect(result.stdout).toBe('')
  return { dataDir, result }
}

describe('shoal-node rejects bad input with one clear line', () => {
  it('unknown flag', async () => {
    const { dataDir } = await expectFailure('unknown-flag', ['--bogus'], /--bogus/)
    expect(await exists(dataDir)).toBe(false)
  }, 30_000)

  it('bootstrap address that is not a multiaddr, and one without /p2p/', async () => {
    const a = await expectFailure('bad-bootstrap', ['--bootstrap', 'not-an-addr'], /bootstrap address "not-an-addr" is not a multiaddr/)
    expect(await exists(a.dataDir)).toBe(false)
    const b = await expectFailure('bootstrap-no-peer', ['--bootstrap', '/ip4/127.0.0.1/tcp/4010'], /lacks \/p2p\//)
    expect(await exists(b.dataDir)).toBe(false)
  }, 30_000)

  it('listen port already in use', async () => {
    const server: Server = createServer()
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(0, '127.0.0.1', resolve) })
    try {
      const port = (server.address() as AddressInfo).port
      const { dataDir } = await expectFailure('port-in-use', [], new RegExp(`/ip4/127\\.0\\.0\\.1/tcp/${port} is already in use`), { listen: `/ip4/127.0.0.1/tcp/${port}` })
      // It got as far as its data dir, but wrote no artifact.
      expect(await readdir(join(dataDir, 'artifacts')).catch(() => [])).toEqual([])
    } finally {
      await new Promise<void>(resolve => { server.close(() => { resolve() }) })
    }
  }, 30_000)

  it('data dir that is a regular file', async () => {
    const c = await caseDir('data-dir-file')
    const file = join(c.dir, 'not-a-dir')
    await writeFile(file, 'hello')
    await expectFailure('data-dir-file-run', [], /data dir .*not-a-dir is not a directory/, { dataDir: file })
    expect((await stat(file)).isFile()).toBe(true)
    expect((await stat(file)).size).toBe(5)
  }, 30_000)

  it('config file that is not JSON', async () => {
    const c = await caseDir('bad-config')
    const config = join(c.dir, 'config.json')
    await writeFile(config, '{ "dataDir": ')
    const { dataDir } = await expectFailure('bad-config-run', ['--config', config], /config file .*config\.json is not a JSON object/)
    expect(await exists(dataDir)).toBe(false)
  }, 30_000)

  it('config file that does not exist', async () => {
    const { dataDir } = await expectFailure('missing-config', ['--config', join(root, 'nope.json')], /config file .*nope\.json cannot be read/)
    expect(await exists(dataDir)).toBe(false)
  }, 30_000)

  it('retention options that are not numbers or sizes', async () => {
    const a = await expectFailure('bad-keep', ['--keep', '0'], /--keep must be a positive integer/)
    expect(await exists(a.dataDir)).toBe(false)
    const b = await expectFailure('bad-max-store', ['--max-store', 'lots'], /--max-store: "lots" is not a size; use e\.g\. 500MB/)
    expect(await exists(b.dataDir)).toBe(false)
  }, 30_000)

  it('--help exits 0 and prints usage on stdout', async () => {
    const c = await caseDir('help')
    const result = await run(NODE_BIN, ['--help'], { cwd: c.dir, peersDir: c.peersDir })
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^Usage: shoal-node \[options\]/)
    expect(result.stdout).toMatch(/--data-dir/)
    expect(result.stderr).toBe('')
  }, 30_000)
})

describe('an empty file is a valid artifact', () => {
  it('publisher push of a 0-byte file reaches a running node, which writes a 0-byte file', async () => {
    const c = await caseDir('empty')
    await writeFile(join(c.dir, 'empty.bin'), '')
    const node = start(NODE_BIN, ['--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', c.dataDir], { cwd: c.dir, peersDir: c.peersDir })
    let nodeExit: Result | undefined
    try {
      await waitFor('the node to listen', () => {
        if (node.child.exitCode != null) throw new Error(`node exited early: ${node.stderr()}`)
        return /listening on \/ip4\/127\.0\.0\.1\/tcp\/\d+/.test(node.stdout())
      }, 30_000)

      const pub = await run(PUBLISHER_BIN, [
        'push', 'empty.bin', '--replicas', '1', '--timeout', '60',
        '--no-mdns', '--listen', '/ip4/127.0.0.1/tcp/0', '--data-dir', join(c.dir, 'publisher')
      ], { cwd: c.dir, peersDir: c.peersDir, timeoutMs: 75_000 })
      expect({ code: pub.code, stderr: pub.stderr }).toEqual({ code: 0, stderr: expect.any(String) })
      const id = pub.stdout.trim()
      expect(id).toMatch(/^bafy[a-z2-7]+$/)
      expect(pub.stdout).toBe(`${id}\n`)

      const out = join(c.dataDir, 'artifacts', 'empty.bin')
      await waitFor('the node to write empty.bin', async () => await exists(out), 10_000)
      const s = await stat(out)
      expect(s.isFile()).toBe(true)
      expect(s.size).toBe(0)
    } finally {
      if (node.child.exitCode == null && node.child.signalCode == null) node.child.kill('SIGTERM')
      const timer = setTimeout(() => { node.child.kill('SIGKILL') }, 15_000)
      nodeExit = await node.exited
      clearTimeout(timer)
    }
    // A clean shutdown on SIGTERM.
    expect({ code: nodeExit.code, signal: nodeExit.signal }).toEqual({ code: 0, signal: null })
    expect(nodeExit.stdout).toMatch(/SIGTERM: shutting down/)
    expect(nodeExit.stdout).toMatch(/stopped/)
  }, 60_000)
})
