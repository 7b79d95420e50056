/**
 * The dial policy of a transfer, on a virtual clock: peers that refuse us (they are full) or
 * cannot be reached are redialled ever less often.
 */
import { CID } from 'multiformats/cid'
import { peerIdFromString } from '@libp2p/peer-id'
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
