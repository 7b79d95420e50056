/**
 * Real libp2p nodes for the exchange's integration tests: in-process nodes on 127.0.0.1 TCP
 * (noise + yamux), each with its own on-disk store in a temp dir. `useNodes()` registers the
 * temp dir and the teardown with jest.
 */
import { randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createLibp2p } from 'libp2p'
import { tcp } from '@libp2p/tcp'
import { noise } from '@chainsafe/libp2p-noise'
import { yamux } from '@chainsafe/libp2p-yamux'
import { identify } from '@libp2p/identify'
import { chunkFile } from '@shoal/content'
import { openStore } from '@shoal/store'
import { exchange } from '../src/index.js'
import type { Candidate, Exchange, ExchangeInit } from '../src/index.js'
import type { Store } from '@shoal/store'
import type { ChunkedFile } from '@shoal/content'
import type { Libp2p } from '@libp2p/interface'

export const CHUNK = 64 * 1024

export interface TestNode {
  name: string
  libp2p: Libp2p<{ identify: unknown, exchange: Exchange }>
  exchange: Exchange
  store: Store
  dir: string
}

let root: string
const nodes: TestNode[] = []

/** The temp dir of the current test file */
export function testRoot (): string {
  return root
}

export async function makeNode (name: string, init: Omit<ExchangeInit, 'store'> = {}): Promise<TestNode> {
  const dir = join(root, name)
  const store = await openStore({ dataDir: join(dir, 'store') })
  try {
    const libp2p = await createLibp2p({
      addresses: { listen: ['/ip4/127.0.0.1/tcp/0'] },
      transports: [tcp()],
      connectionEncrypters: [noise()],
      streamMuxers: [yamux()],
      connectionManager: { inboundConnectionThreshold: 1000 },
      services: {
        identify: identify(),
        exchange: exchange({ requestTimeoutMs: 5_000, ...init, store })
      }
    })
    const node: TestNode = { name, libp2p, exchange: libp2p.services.exchange, store, dir }
    nodes.push(node)
    return node
  } catch (err) {
    await store.close()
    throw err
  }
}

export function candidate (n: TestNode): Candidate {
  return { id: n.libp2p.peerId, multiaddrs: n.libp2p.getMultiaddrs() }
}

/** A file of random bytes, chunked; returns its path and chunking */
export async function randomArtifact (name: string, size: number): Promise<ChunkedFile & { path: string, bytes: Uint8Array }> {
  const path = join(root, name)
  const bytes = randomBytes(size)
  await writeFile(path, bytes)
  const chunked = await chunkFile(path, { chunkSize: CHUNK })
  return { ...chunked, path, bytes }
}

export async function waitFor (what: string, cond: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (!(await cond())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await new Promise(resolve => setTimeout(resolve, 50))
  }
}

/** Reject after `ms` so a stuck fetch fails the test with a message rather than hanging */
export async function within<T> (what: string, p: Promise<T>, ms: number): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined
  try {
    return await Promise.race([
      p,
      new Promise<never>((_resolve, reject) => { timer = setTimeout(() => { reject(new Error(`${what} did not finish in ${ms} ms`)) }, ms) })
    ])
  } finally {
    clearTimeout(timer)
  }
}

/** Register the temp dir and the teardown of every node made with `makeNode` */
export function useNodes (prefix: string): void {
  beforeAll(async () => {
    root = await mkdtemp(join(tmpdir(), prefix))
  })
  afterAll(async () => {
    for (const n of nodes.splice(0)) {
      try { await n.libp2p.stop() } catch {}
      await n.store.close().catch(() => {})
    }
    await rm(root, { recursive: true, force: true })
  }, 60_000)
}
