/**
 * A session's outgoing frames, read on the other end of a stream pair: haves that may wait go
 * out together, or with the next frame that goes out sooner.
 */
import { streamPair } from '@libp2p/utils'
import { peerIdFromString } from '@libp2p/peer-id'
import { TokenBucket } from '../src/rate-limit.js'
import { NULL_HOST, Session } from '../src/session.js'
import { encodeFrame, readFrames, writeBytes } from '../src/wire.js'
import type { SessionHost } from '../src/session.js'
import type { Message } from '../src/pb/message.js'

const PEER = peerIdFromString('12D3KooWBXmsnukwAZTqLecrm97phmqT6vTwjt1EB5WEB6gqj5Jh')

async function pair (host: SessionHost = NULL_HOST, upload?: TokenBucket): Promise<{ session: Session, frames: Message[], reads: number[], send: (m: Message) => Promise<void>, close: () => void }> {
  const [ours, theirs] = await streamPair()
  const session = new Session(ours, PEER, host, { maxMessageSize: 1 << 20, maxQueuedRequests: 8, upload })
  const frames: Message[] = []
  const reads: number[] = []
  void (async () => { for await (const m of readFrames(theirs, 1 << 20, n => reads.push(n))) frames.push(m) })().catch(() => {})
  return { session, frames, reads, send: async (m) => { await writeBytes(theirs, encodeFrame(m)) }, close: () => { session.close(); theirs.abort(new Error('done')) } }
}

const HANDSHAKE: Message = { handshake: { artifact: new Uint8Array(0), bitfield: new Uint8Array(0), wantManifest: false, manifest: new Uint8Array(0), superSeeding: false, sendManifest: false, relaysManifest: false, manifestInParts: false } }

const sleep = async (ms: number): Promise<void> => { await new Promise(resolve => setTimeout(resolve, ms)) }

describe('session haves that may wait', () => {
  it('go out as one frame when the delay is up', async () => {
    const { session, frames, close } = await pair()
    try {
      session.haveLater([1], 300)
      session.haveLater([2, 3], 300)
      await sleep(100)
      expect(frames).toHaveLength(0)
      await sleep(700)
      expect(frames.map(f => f.have?.indices)).toEqual([[1, 2, 3]])
    } finally {
      close()
    }
  })

  it('go out at once when maxHeld of them wait', async () => {
    const { session, frames, close } = await pair()
    try {
      session.haveLater([1, 2], 60_000, 4)
      await sleep(100)
      expect(frames).toHaveLength(0)
      session.haveLater([3, 4], 60_000, 4)
      session.haveLater([5], 60_000, 4) // held again, behind a fresh timer
      await sleep(300)
      expect(frames.map(f => f.have?.indices)).toEqual([[1, 2, 3, 4]])
    } finally {
      close()
    }
  })

  it('go out at once, ahead of it, when another frame is sent', async () => {
    const { session, frames, close } = await pair()
    try {
      session.haveLater([4], 60_000)
      session.request([7])
      await sleep(300)
      expect(frames.map(f => f.have?.indices ?? f.request?.indices)).toEqual([[4], [7]])
      expect(frames[0].have).toBeDefined()
      expect(frames[1].request).toBeDefined()
    } finally {
      close()
    }
  })

  it('go out just ahead of a block we send the peer', async () => {
    const host: SessionHost = { ...NULL_HOST, async readChunk () { return new Uint8Array(100).fill(1) } }
    const { session, frames, send, close } = await pair(host)
    try {
      void session.run()
      session.haveLater([4], 60_000)
      await send(HANDSHAKE)
      await send({ request: { indices: [2] } })
      await sleep(300)
      expect(frames.map(f => f.have?.indices ?? f.block?.index)).toEqual([[4], 2])
    } finally {
      close()
    }
  })
})

describe('session blocks under an upload cap', () => {
  it('go out in slices of 100 ms of the cap, whole, with frames sent meanwhile after them', async () => {
    const block = Uint8Array.from({ length: 64 * 1024 }, (_, i) => i % 251)
    const host: SessionHost = { ...NULL_HOST, async readChunk () { return block } }
    // 64 KiB at 160 KiB/s in 16 KiB slices (100 ms each): the first at once, the rest over 300 ms
    const upload = new TokenBucket({ rate: 160 * 1024, burst: 16 * 1024 })
    const { session, frames, reads, send, close } = await pair(host, upload)
    try {
      void session.run()
      await send(HANDSHAKE)
      await send({ request: { indices: [2] } })
      await sleep(60)
      session.request([9]) // mid-block: must not land inside the block's frame
      const start = Date.now()
      while (frames.length < 2 && Date.now() - start < 5_000) await sleep(20)
      expect(frames.map(f => f.block?.index ?? f.request?.indices)).toEqual([2, [9]])
      expect(frames[0].block?.data).toEqual(block)
      expect(Math.max(...reads)).toBeLessThanOrEqual(16 * 1024)
      expect(reads.length).toBeGreaterThanOrEqual(4)
    } finally {
      close()
    }
  })
})
