/**
 * Shared helpers of the end-to-end tests: real `shoal-node` and `publisher` processes on
 * 127.0.0.1, each with its output captured, meeting in a rendezvous directory private to one
 * {@link TestSwarm}, plus random payloads, hashing, status.json polling and disk tampering.
 *
 * Every process and temporary directory a swarm creates is released by {@link TestSwarm.cleanup}
 * (call it in `afterAll`): children are SIGKILLed by pid and awaited, directories removed.
 */
import { spawn } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { createReadStream, createWriteStream } from 'node:fs'
import { mkdir, mkdtemp, open, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import type { ChildProcess } from 'node:child_process'
import type { ArtifactProgress } from '@shoal/swarm'

const repo = fileURLToPath(new URL('../../../', import.meta.url))
export const nodeBin = join(repo, 'apps/node/bin/shoal-node.js')
export const publisherBin = join(repo, 'apps/publisher/bin/publisher.js')

export const KiB = 1024
export const MiB = 1024 * 1024

/** Flags every process in a test swarm gets: loopback only, no LAN discovery */
export const LOCAL = ['--listen', '/ip4/127.0.0.1/tcp/0', '--no-mdns']

/** One artifact in a node's status.json: the node's progress and counters, as JSON */
export type ArtifactStatus = ArtifactProgress

/** A node's status.json */
export interface Status {
  peerId: string
  multiaddrs: string[]
  pid: number
  at: number
  artifacts: ArtifactStatus[]
}

/** Poll `fn` every 200 ms until it returns something other than undefined */
export async function until<T> (what: string, fn: () => Promise<T | undefined> | T | undefined, timeoutMs: number): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = await fn()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)
    await sleep(200)
  }
}

export async function sleep (ms: number): Promise<void> {
  await new Promise(resolve => setTimeout(resolve, ms))
}

/** Write `size` random bytes to `path`; resolves with their sha256 (hex) */
export async function writeRandomFile (path: string, size: number): Promise<string> {
  const hash = createHash('sha256')
  const out = createWriteStream(path)
  for (let left = size; left > 0; left -= MiB) {
    const piece = randomBytes(Math.min(left, MiB))
    hash.update(piece)
    if (!out.write(piece)) await new Promise<void>(resolve => out.once('drain', () => { resolve() }))
  }
  await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => { err != null ? reject(err) : resolve() }))
  return hash.digest('hex')
}

export async function sha256File (path: string): Promise<string> {
  const hash = createHash('sha256')
  for await (const piece of createReadStream(path)) hash.update(piece)
  return hash.digest('hex')
}

/** sha256 of a file, or undefined if it cannot be read (missing, mid-rename) */
export async function sha256IfExists (path: string): Promise<string | undefined> {
  try {
    return await sha256File(path)
  } catch {
    return undefined
  }
}

/** Invert every bit of the byte at each offset (offsets past the end of the file are skipped) */
export async function flipBytes (path: string, offsets: number[]): Promise<void> {
  const fh = await open(path, 'r+')
  try {
    const { size } = await fh.stat()
    const one = Buffer.alloc(1)
    for (const offset of offsets) {
      if (offset >= size) continue
      await fh.read(one, 0, 1, offset)
      one[0] ^= 0xff
      await fh.write(one, 0, 1, offset)
    }
    await fh.sync()
  } finally {
    await fh.close()
  }
}

/** One offset inside each chunk region of a file of `size` bytes (the middle of the chunk) */
export function offsetInEveryChunk (size: number, chunkSize: number): number[] {
  const out: number[] = []
  for (let start = 0; start < size; start += chunkSize) out.push(start + Math.floor(Math.min(chunkSize, size - start) / 2))
  return out
}

/** Length of chunk `index` of a file of `size` bytes */
export function chunkLength (size: number, chunkSize: number, index: number): number {
  return Math.max(0, Math.min(chunkSize, size - index * chunkSize))
}

/** The first line of `text` that matches `re` */
export function findLine (text: string, re: RegExp): string | undefined {
  return text.split('\n').find(l => re.test(l))
}

/** Every line of `text` that matches `re` */
export function findLines (text: string, re: RegExp): string[] {
  return text.split('\n').filter(l => re.test(l))
}

/** Resolve with the first line of a process's output that matches `re` */
export async function waitForLog (proc: Proc, re: RegExp, timeoutMs: number): Promise<string> {
  try {
    return await until(`a log line matching ${String(re)} from ${proc.name}`, () => {
      if (proc.done) throw new Error(`${proc.name} exited (${proc.describeExit()}) before logging ${String(re)}`)
      return findLine(proc.output(), re)
    }, timeoutMs)
  } catch (err: any) {
    err.message = `${String(err.message)}; its output ends:\n${proc.tail(15)}`
    throw err
  }
}

/** A spawned process with its stdout and stderr captured, interleaved, as they arrive */
export class Proc {
  readonly name: string
  readonly child: ChildProcess
  /** Captured output pieces; {@link output} joins them */
  readonly log: string[] = []
  /** Resolves with the exit code (null if killed by a signal) once the process is gone */
  readonly exit: Promise<number | null>

  constructor (name: string, child: ChildProcess) {
    this.name = name
    this.child = child
    child.stdout?.on('data', (d: Buffer) => this.log.push(d.toString()))
    child.stderr?.on('data', (d: Buffer) => this.log.push(d.toString()))
    // Registered at once, so an early exit is never missed; a process that could not be
    // spawned at all counts as exited.
    this.exit = new Promise(resolve => {
      child.once('exit', code => { resolve(code) })
      child.once('error', err => { this.log.push(`spawn error: ${err.message}\n`); if (child.pid == null) resolve(null) })
    })
  }

  get pid (): number | undefined {
    return this.child.pid
  }

  /** True once the process has exited (or been killed) */
  get done (): boolean {
    return this.child.exitCode != null || this.child.signalCode != null
  }

  output (): string {
    return this.log.join('')
  }

  /** The last lines of output, for error messages */
  tail (lines = 30): string {
    return this.output().split('\n').slice(-lines).join('\n')
  }

  describeExit (): string {
    if (this.child.signalCode != null) return `signal ${this.child.signalCode}`
    if (this.child.exitCode != null) return `code ${this.child.exitCode}`
    return 'running'
  }

  /** Send `signal` unless the process is already gone */
  signal (signal: NodeJS.Signals): void {
    if (!this.done) this.child.kill(signal)
  }

  /** SIGKILL and wait until the process is gone */
  async kill (): Promise<void> {
    this.signal('SIGKILL')
    await this.exit
  }
}

/** A `shoal-node` process */
export class NodeProc extends Proc {
  readonly dataDir: string
  readonly statusFile: string

  constructor (name: string, child: ChildProcess, dataDir: string, statusFile: string) {
    super(name, child)
    this.dataDir = dataDir
    this.statusFile = statusFile
  }

  /** The default output dir of a node (`<data-dir>/artifacts`) */
  get outputDir (): string {
    return join(this.dataDir, 'artifacts')
  }

  /**
   * The node's current status.json, or undefined before this process first wrote one (a file
   * left by an earlier process on the same data dir is ignored: its pid differs)
   */
  async status (): Promise<Status | undefined> {
    const s = await readStatus(this.statusFile)
    return s?.pid === this.pid ? s : undefined
  }

  /** The node's peer id, once it has written its status */
  async peerId (): Promise<string> {
    return (await until(`${this.name} to write its status`, async () => await this.status(), 60_000)).peerId
  }

  /** This node's entry for artifact `id`, if it has one */
  async artifact (id: string): Promise<ArtifactStatus | undefined> {
    return (await this.status())?.artifacts.find(a => a.id === id)
  }

  /** Wait until this node's entry for artifact `id` satisfies `test`; fails early if the node exits */
  async waitArtifact (id: string, what: string, test: (a: ArtifactStatus) => boolean, timeoutMs: number): Promise<ArtifactStatus> {
    let last: ArtifactStatus | undefined
    try {
      return await until(`${this.name} to report ${what} of ${id}`, async () => {
        if (this.done) throw new Error(`${this.name} exited (${this.describeExit()})`)
        last = await this.artifact(id)
        return last != null && test(last) ? last : undefined
      }, timeoutMs)
    } catch (err: any) {
      const entry = last == null ? 'no status entry for it' : `last status entry ${JSON.stringify({ ...last, bytesReceivedFrom: undefined })}`
      err.message = `${String(err.message)}; ${entry}; its output ends:\n${this.tail(30)}`
      throw err
    }
  }

  /** Wait until this node reports artifact `id` complete with a path */
  async waitComplete (id: string, timeoutMs: number): Promise<ArtifactStatus> {
    return await this.waitArtifact(id, 'completion', a => a.complete && a.path != null, timeoutMs)
  }
}

/** Read a status.json; undefined if absent or unreadable */
export async function readStatus (statusFile: string): Promise<Status | undefined> {
  try {
    return JSON.parse(await readFile(statusFile, 'utf8'))
  } catch {
    return undefined
  }
}

/** The artifact id a publisher printed alone on a line of stdout, if any */
export function printedId (proc: Proc): string | undefined {
  return proc.output().split('\n').map(l => l.trim()).find(l => /^baf[a-z0-9]{20,}$/.test(l))
}

/** The publisher's peer id, from its `publisher <id> listening on ...` line */
export function publisherPeerId (proc: Proc): string | undefined {
  return /publisher (\S+) listening on/.exec(proc.output())?.[1]
}

export interface StartNodeOptions {
  /** Defaults to `<work>/<name>`; pass the same dir again to restart a node on its state */
  dataDir?: string
  /** Extra flags, e.g. ['--max-download', '2MiB'] */
  args?: string[]
  /** Extra environment */
  env?: NodeJS.ProcessEnv
}

export interface PushOptions {
  /** Defaults to a fresh `<work>/publisher-<n>` */
  dataDir?: string
  /** --replicas; default 1 */
  replicas?: number
  /** --timeout in seconds; default 240, so a stuck publisher ends on its own */
  timeoutSeconds?: number
  /** Extra flags, e.g. ['--max-upload', '4MiB', '--chunk-size', '262144'] */
  args?: string[]
  env?: NodeJS.ProcessEnv
  name?: string
}

/**
 * One test's swarm: a temporary work dir, a private rendezvous dir and every process started
 * through it. Processes of different TestSwarms never meet.
 */
export class TestSwarm {
  readonly work: string
  readonly peersDir: string
  readonly procs: Proc[] = []
  private readonly cleanups: Array<() => Promise<void>> = []
  private publishers = 0

  private constructor (work: string) {
    this.work = work
    this.peersDir = join(work, 'peers')
  }

  static async create (prefix = 'shoal-e2e-'): Promise<TestSwarm> {
    const swarm = new TestSwarm(await mkdtemp(join(tmpdir(), prefix)))
    await mkdir(swarm.peersDir, { recursive: true })
    return swarm
  }

  /** A path inside the work dir */
  path (...parts: string[]): string {
    return join(this.work, ...parts)
  }

  /** Run `node <args>` with output captured and the swarm's rendezvous dir in the environment */
  spawn (name: string, args: string[], env: NodeJS.ProcessEnv = {}): Proc {
    return this.track(new Proc(name, this.spawnChild(args, env)))
  }

  /** Start a `shoal-node` on `127.0.0.1` with its status.json in its data dir */
  startNode (name: string, options: StartNodeOptions = {}): NodeProc {
    const dataDir = options.dataDir ?? this.path(name)
    const statusFile = join(dataDir, 'status.json')
    const args = [nodeBin, '--data-dir', dataDir, ...LOCAL, ...(options.args ?? [])]
    return this.track(new NodeProc(name, this.spawnChild(args, options.env ?? {}), dataDir, statusFile))
  }

  /** `publisher push <file>` on 127.0.0.1 */
  push (file: string, options: PushOptions = {}): Proc {
    const n = this.publishers++
    const dataDir = options.dataDir ?? this.path(`publisher-${n}`)
    const args = [publisherBin, 'push', file, '--replicas', String(options.replicas ?? 1), ...LOCAL,
      '--data-dir', dataDir, '--timeout', String(options.timeoutSeconds ?? 240), ...(options.args ?? [])]
    return this.spawn(options.name ?? `publisher-${n}`, args, options.env)
  }

  /** Wait until every node has written its status.json (it is up and listening) */
  async waitStarted (nodes: NodeProc[], timeoutMs = 60_000): Promise<void> {
    await until('every node to start', async () => {
      for (const n of nodes) {
        if (n.done) throw new Error(`${n.name} exited (${n.describeExit()}):\n${n.tail()}`)
      }
      const all = await Promise.all(nodes.map(async n => await n.status()))
      return all.every(s => s != null) ? true : undefined
    }, timeoutMs)
  }

  /** Run `fn` in {@link cleanup}, after every process is gone (e.g. unmount a file system) */
  onCleanup (fn: () => Promise<void>): void {
    this.cleanups.push(fn)
  }

  /** SIGKILL every process still running, wait for them, run the cleanups, remove the work dir */
  async cleanup (): Promise<void> {
    await Promise.all(this.procs.map(async p => { await p.kill() }))
    for (const fn of this.cleanups.reverse()) await fn().catch(err => { console.warn(`cleanup: ${String(err)}`) })
    await rm(this.work, { recursive: true, force: true })
  }

  private spawnChild (args: string[], env: NodeJS.ProcessEnv): ChildProcess {
    return spawn(process.execPath, args, {
      env: { ...process.env, SHOAL_PEERS_DIR: this.peersDir, ...env },
      stdio: ['ignore', 'pipe', 'pipe']
    })
  }

  private track<P extends Proc> (proc: P): P {
    this.procs.push(proc)
    return proc
  }
}

/** Wait for a publisher to exit 0 and return the id it printed */
export async function pushed (proc: Proc): Promise<string> {
  const code = await proc.exit
  const id = printedId(proc)
  if (code !== 0 || id == null) throw new Error(`${proc.name} exited ${proc.describeExit()} without printing an id:\n${proc.tail()}`)
  return id
}

/** Wait until a publisher has announced its artifact; resolves with the id it logged */
export async function waitAnnounced (proc: Proc, timeoutMs = 60_000): Promise<string> {
  const line = await waitForLog(proc, /artifact id \S+/, timeoutMs)
  return (/artifact id (\S+)/.exec(line) as RegExpExecArray)[1]
}

/** What a node logged at start about a partial artifact: `resuming <name>: <have>/<chunks> chunks verified on disk` */
export interface Resumed {
  name: string
  have: number
  chunks: number
}

const RESUMING = /resuming (.+): (\d+)\/(\d+) chunks verified on disk/

/** Wait for a node's `resuming <name>: ...` line for `name` and parse it */
export async function waitResumed (node: Proc, name: string, timeoutMs = 60_000): Promise<Resumed> {
  const line = await waitForLog(node, new RegExp(`resuming ${reEscape(name)}: \\d+/\\d+ chunks verified on disk`), timeoutMs)
  const m = RESUMING.exec(line) as RegExpExecArray
  return { name: m[1], have: Number(m[2]), chunks: Number(m[3]) }
}

/** Escape a string for use inside a RegExp */
export function reEscape (s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
}
