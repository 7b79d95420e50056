/**
 * The dial policy of a transfer, on a virtual clock: peers that refuse us (they are full) or
 * cannot be reached are redialled ever less often, and a download opens few sessions until it
 * has the manifest.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { CID } from 'multiformats/cid'
import { peerIdFromString } from '@libp2p/peer-id'
import { chunkFile } from '@shoal/content'
import { Transfer } from '../src/transfer.js'
import type { TransferContext } from '../src/transfer.js'

const ID = CID.parse('bafyreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
const FULL_PEER = '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA'

function transferWithClock (): { transfer: Transfer, dials: number[], advance: (ms: number) => void } {
  let now = 0
  const dials: number[] = []
  const ctx = {
    self: 'us',
    maxPeers: 4,
    now: () => now,
    // Every dial is refused, as a peer at its session limit does.
    dial: (t: Transfer, c: { id: { toString: () => string } }) => {
      dials.push(now)
      t.dialling.delete(c.id.toString())
      t.dialFailed(c.id.toString())
    },
    addrsOf: () => [],
    log: () => {}
  } as unknown as TransferContext
  const transfer = new Transfer(ID, ctx)
  return { transfer, dials, advance: (ms) => { now += ms } }
}

describe('dial backoff', () => {
  it('redials a peer that keeps refusing ever less often, up to a cap', () => {
    const { transfer, dials, advance } = transferWithClock()
    transfer.startDownload()
    transfer.addCandidates([{ id: peerIdFromString(FULL_PEER), multiaddrs: [] }])
    for (let t = 0; t < 300_000; t += 1_000) {
      advance(1_000)
      transfer.connectMore()
    }
    const gaps = dials.slice(1).map((t, i) => t - dials[i])
    // 5 s, then 10, 20, 40, and 80 s from then on: not a dial every 5 s (60 of them).
    expect(gaps.slice(0, 5)).toEqual([5_000, 10_000, 20_000, 40_000, 80_000])
    expect(new Set(gaps.slice(5))).toEqual(new Set([80_000]))
    expect(dials.length).toBeLessThan(9)
  })
})

describe('sessions before the manifest', () => {
  const PEERS = [
    '12D3KooWBXmsnukwAZTqLecrm97phmqT6vTwjt1EB5WEB6gqj5Jh',
    '12D3KooWFn8sCPnZPhLXFTJ1mKiitK4MxZo3zQ38Jf1eEDvygAVH',
    '12D3KooWSHBwgQL6NgCs6JYJ46BkforRGSHo1SxMMeD1NeGnkRqr',
    '12D3KooWD3eckifWpRn9wQpMG9R9hX3sD158z7EqHWmweQAJU5SA',
    '12D3KooWEYvzjninN1HoG7wdMpsbw9oiXZzMXCUfY1Qa8q7YL9Sc',
    '12D3KooWL6hFh7hc5DY6RMayUJPUhXyQJVDD6kK4NKdnNLbpMacM',
    '12D3KooWMgyfjM1cBLU6XyKAem8TkZk2ChPTQAuHDTWftb9LChTK',
    '12D3KooWCVdLTbjMNwGy8obVLson9c4GCmXfqhhr6GXBGUraReTS',
    '12D3KooWMCdeadttN3kYT9348xk1nYSqyX5R2Jk5czBwEaKjHszd',
    '12D3KooWFR1EMestvRdWwZweePBky4NBWRH7cQChhCGfsgRJkY3F'
  ]

  it('opens four until the manifest is stored, then fills up to maxPeers', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'shoal-dial-'))
    try {
      const file = join(dir, 'a.bin')
      await writeFile(file, new Uint8Array(3000).fill(7))
      const artifact = await chunkFile(file, { chunkSize: 1024 })
      const dialled: string[] = []
      const ctx = {
        self: 'us',
        maxPeers: 6,
        scheduler: {},
        now: () => 0,
        // Dials stay pending: each holds its place until it resolves.
        dial: (_t: Transfer, c: { id: { toString: () => string } }) => { dialled.push(c.id.toString()) },
        store: {
          create: async (manifest: any) => ({
            manifest, isComplete: false, haveCount: 0, bitfieldBytes: () => new Uint8Array(1)
          })
        },
        addrsOf: () => [],
        log: () => {}
      } as unknown as TransferContext
      const transfer = new Transfer(artifact.id, ctx)
      transfer.startDownload()
      // Ten candidates: more than either limit.
      transfer.addCandidates(PEERS.map(id => ({ id: peerIdFromString(id), multiaddrs: [] })))
      expect(dialled).toHaveLength(4)
      await (transfer as any).adoptManifest(artifact.manifestBytes)
      expect(dialled).toHaveLength(6)
      expect(new Set(dialled).size).toBe(6)
    } finally {
      await rm(dir, { recursive: true, force: true })
    }
  })
})
