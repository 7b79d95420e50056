/**
 * End to end, as a user runs it: five `shoal-node` daemons and one `publisher push`, each a
 * separate process on 127.0.0.1, finding each other through a shared rendezvous directory.
 * A 64 MiB random file must reach every node byte-identical, and the nodes' own counters must
 * show chunks flowing node to node, not only from the publisher.
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'

const NODES = 5
const SIZE = 64 * 1024 * 1024
const repo = fileURLToPath(new URL('../../../', import.meta.url))
const nodeBin = join(repo, 'apps/node/bin/shoal-node.js')
const publisherBin = join(repo, 'apps/publisher/bin/publisher.js')

interface Status {
  peerId: string
  artifacts: Array<{ id: string, complete: boolean, path?: string, publisher?: string, bytesReceived: number, bytesReceivedFrom: Record<string, number>, bytesSent: number, invalidBlocks: number }>
}

let work: string
const children: ChildProcess[] = []

async function writeRandomFile (path: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const out = createWriteStream(path)
  for (let left = size; left > 0; left -= 1 << 20) {
    const piece = randomBytes(Math.min(left, 1 << 20))
    hash.update(piece)
    if (!out.write(piece)) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => { err != null ? reject(err) : resolve() }))
  return hash.digest('hex')
}

async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const piece of createReadStream(path)) hash.update(piece)
  return hash.digest('hex')
}

function start (args: string[], log: string[]): ChildProcess {
  const child = spawn(process.execPath, args, {
    env: { ...process.env, SHOAL_PEERS_DIR: join(work, 'peers') },
    stdio: ['ignore', 'pipe', 'pipe']
  })
  child.stdout?.on('data', (d: Buffer) => log.push(d.toString()))
  child.stderr?.on('data', (d: Buffer) => log.push(d.toString()))
  children.push(child)
  return child
}

async function readStatus (i: number): Promise<Status | undefined> {
  try {
    return JSON.parse(await readFile(join(work, `node-${i}`, 'status.json'), 'utf8'))
  } catch {
    return undefined
  }
}

async function until<T> (what: string, fn: () => Promise<T | undefined>, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 200))
  }
}

function exited (child: ChildProcess): Promise<number | null> {
  if (child.exitCode != null) return Promise.resolve(child.exitCode)
  return new Promise(resolve => child.once('exit', code => { resolve(code) }))
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), 'shoal-e2e-'))
})

afterAll(async () => {
  for (const c of children) if (c.exitCode == null && c.signalCode == null) c.kill('SIGKILL')
  await Promise.all(children.map(exited))
  await rm(work, { recursive: true, force: true })
})

it('carries a 64 MiB file from one publisher to 5 node processes, with node-to-node traffic', async () => {
  const file = join(work, 'payload.bin')
  const digest = await writeRandomFile(file, SIZE)

  const nodeLogs: string[][] = []
  const nodes: ChildProcess[] = []
  for (let i = 0; i < NODES; i++) {
    nodeLogs.push([])
    nodes.push(start([nodeBin, '--data-dir', join(work, `node-${i}`), '--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns'], nodeLogs[i]))
  }
  await until('every node to start', async () => {
    const all = await Promise.all(nodes.map(async (_, i) => await readStatus(i)))
    return all.every(s => s != null) ? true : undefined
  }, 60_000)

  const pubLog: string[] = []
  const publisher = start([publisherBin, 'push', file, '--replicas', String(NODES), '--listen', '/ip4/127.0.0.1/tcp/0',
    '--no-mdns', '--data-dir', join(work, 'publisher'), '--timeout', '240'], pubLog)
  const code = await exited(publisher)
  if (code !== 0) throw new Error(`publisher exited ${code}:\n${pubLog.join('')}`)
  const id = pubLog.join('').split('\n').find(l => l.startsWith('bafy'))?.trim()
  expect(id).toBeDefined()

  let fromOtherNodes = 0
  let sentByNodes = 0
  for (let i = 0; i < NODES; i++) {
    const entry = await until(`node ${i} to report the artifact complete`, async () => {
      const a = (await readStatus(i))?.artifacts.find(a => a.id === id)
      return a?.complete === true && a.path != null ? a : undefined
    }, 30_000)
    expect(await sha256File(entry.path as string)).toBe(digest)
    expect(entry.invalidBlocks).toBe(0)
    expect(entry.publisher).toBeDefined()
    const fromPublisher = entry.bytesReceivedFrom[entry.publisher as string] ?? 0
    // Every verified byte came from somewhere: the publisher or other nodes.
    expect(entry.bytesReceived).toBeGreaterThanOrEqual(SIZE)
    fromOtherNodes += entry.bytesReceived - fromPublisher
    sentByNodes += entry.bytesSent
  }
  expect(fromOtherNodes).toBeGreaterThan(0)
  expect(sentByNodes).toBeGreaterThan(0)

  // A clean shutdown on SIGTERM.
  for (const n of nodes) n.kill('SIGTERM')
  const codes = await Promise.all(nodes.map(exited))
  expect(codes).toEqual(Array(NODES).fill(0))
}, 300_000)
