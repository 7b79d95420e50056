/**
 * In-process swarms for tests: real ShoalNodes (libp2p over TCP on 127.0.0.1) meeting in a
 * per-test rendezvous directory, and a poll-until helper with a message that says what stalled.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ShoalNode, type ShoalNodeInit, type ArtifactProgress } from '../src/index.js'

/**
 * A TestSwarm for the current test file, in a temp dir of its own: made before the file's tests
 * (read `.swarm` in them; its `dir` is the temp dir), stopped and removed after them.
 */
export function useTestSwarm (prefix: string, name: string): { readonly swarm: TestSwarm } {
  let swarm: TestSwarm | undefined
  beforeAll(async () => {
    swarm = new TestSwarm(await mkdtemp(join(tmpdir(), prefix)), name)
  })
  afterAll(async () => {
    if (swarm == null) return
    await swarm.stop()
    await rm(swarm.dir, { recursive: true, force: true })
  })
  return {
    get swarm (): TestSwarm {
      if (swarm == null) throw new Error('useTestSwarm: the swarm exists only inside tests')
      return swarm
    }
  }
}

export class TestSwarm {
  readonly dir: string
  readonly nodes: ShoalNode[] = []
  private readonly swarm: string

  constructor (dir: string, swarm: string) {
    this.dir = dir
    this.swarm = swarm
  }

  /** Create and start a node with its own data dir under the test dir */
  async start (name: string, init: ShoalNodeInit | ((self: () => ShoalNode | undefined) => ShoalNodeInit) = {}): Promise<ShoalNode> {
    let node: ShoalNode | undefined
    const extra = typeof init === 'function' ? init(() => node) : init
    node = await ShoalNode.create({
      dataDir: join(this.dir, name),
      listen: ['/ip4/127.0.0.1/tcp/0'],
      localPeersDir: join(this.dir, 'peers'),
      swarm: this.swarm,
      announceIntervalMs: 1_000,
      ...extra
    })
    this.nodes.push(node)
    await node.start()
    return node
  }

  async stop (): Promise<void> {
    await Promise.allSettled(this.nodes.map(async n => { await n.stop() }))
  }
}

/** Poll `fn` (sync or async) every 100 ms until it is true */
export async function until (what: string, fn: () => boolean | Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await fn())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 100))
  }
}

export function statsOf (node: ShoalNode, id: string): ArtifactProgress | undefined {
  return node.stats().find(s => s.id === id)
}

export function haveOf (node: ShoalNode, id: string): number {
  return statsOf(node, id)?.have ?? 0
}

/** Complete and written to the output dir */
export function completeOn (node: ShoalNode, id: string): boolean {
  const s = statsOf(node, id)
  return s?.complete === true && s.path != null
}

export function sha256 (data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex')
}

export async function sha256File (path: string): Promise<string> {
  return sha256(await readFile(path))
}
