/**
 * End to end, as a user runs it: five `shoal-node` daemons and one `publisher push`, each a
 * separate process on 127.0.0.1, finding each other through a shared rendezvous directory.
 * A 64 MiB random file must reach every node byte-identical, and the nodes' own counters must
 * show chunks flowing node to node, not only from the publisher.
 */
import { MiB, TestSwarm, pushed, sha256File, writeRandomFile } from './helpers.js'

const NODES = 5
const SIZE = 64 * MiB

let swarm: TestSwarm

beforeAll(async () => {
  swarm = await TestSwarm.create()
})

afterAll(async () => {
  await swarm?.cleanup()
})

it('carries a 64 MiB file from one publisher to 5 node processes, with node-to-node traffic', async () => {
  const file = swarm.path('payload.bin')
  const digest = await writeRandomFile(file, SIZE)

  const nodes = Array.from({ length: NODES }, (_, i) => swarm.startNode(`node-${i}`))
  await swarm.waitStarted(nodes)

  const id = await pushed(swarm.push(file, { replicas: NODES }))

  let fromOtherNodes = 0
  let sentByNodes = 0
  for (const node of nodes) {
    const entry = await node.waitComplete(id, 30_000)
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
  for (const n of nodes) n.signal('SIGTERM')
  const codes = await Promise.all(nodes.map(async n => await n.exit))
  expect(codes).toEqual(Array(NODES).fill(0))
}, 300_000)
