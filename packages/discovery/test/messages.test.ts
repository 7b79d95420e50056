import * as cbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import { BeaconThrottle } from '../src/beacon-throttle.js'
import {
  MAX_MESSAGE_BYTES,
  decodeAnnouncement, decodeHolderBeacon, encodeAnnouncement, encodeHolderBeacon
} from '../src/index.js'
import type { Announcement, HolderBeacon } from '../src/index.js'

const root = CID.createV1(0x71, await sha256.digest(new TextEncoder().encode('artifact'))).toString()

const announcement: Announcement = {
  id: root, name: 'model.bin', size: 5_000_000_000, publisher: '12D3KooWPublisher', addrs: ['/ip4/127.0.0.1/tcp/4001'], at: 1_700_000_000_000
}
const beacon: HolderBeacon = {
  id: root, peer: '12D3KooWHolder', addrs: [], have: 3, total: 10, complete: false, at: 1_700_000_000_000
}

describe('announcement codec', () => {
  it('round-trips', () => {
    expect(decodeAnnouncement(encodeAnnouncement(announcement))).toEqual(announcement)
  })

  it('drops unknown fields', () => {
    const bytes = encodeAnnouncement({ ...announcement, extra: 'x' } as Announcement)
    expect(decodeAnnouncement(bytes)).toEqual(announcement)
  })

  it('refuses to encode malformed announcements', () => {
    expect(() => encodeAnnouncement({ ...announcement, id: 'not a cid' })).toThrow(TypeError)
    expect(() => encodeAnnouncement({ ...announcement, size: -1 })).toThrow(TypeError)
    expect(() => encodeAnnouncement({ ...announcement, at: Number.NaN })).toThrow(TypeError)
  })

  it('returns undefined for garbage and never throws', () => {
    const garbage: Uint8Array[] = [
      new Uint8Array(),
      new Uint8Array([0xff, 0x00, 0x13]),
      new TextEncoder().encode('{"id":"x"}'),
      cbor.encode({ ...announcement, size: '5' }),
      cbor.encode({ ...announcement, addrs: [1, 2] }),
      cbor.encode({ ...announcement, addrs: new Array(1000).fill('/ip4/1.2.3.4/tcp/1') }),
      cbor.encode([announcement]),
      cbor.encode(null),
      new Uint8Array(MAX_MESSAGE_BYTES + 1)
    ]
    for (const bytes of garbage) {
      expect(decodeAnnouncement(bytes)).toBeUndefined()
    }
  })
})

describe('holder beacon codec', () => {
  it('round-trips', () => {
    expect(decodeHolderBeacon(encodeHolderBeacon(beacon))).toEqual(beacon)
  })

  it('rejects impossible progress', () => {
    expect(() => encodeHolderBeacon({ ...beacon, have: 11 })).toThrow(TypeError)
    expect(decodeHolderBeacon(cbor.encode({ ...beacon, have: 11 }))).toBeUndefined()
    expect(decodeHolderBeacon(cbor.encode({ ...beacon, complete: 'yes' }))).toBeUndefined()
  })

  it('rejects overlong fields', () => {
    expect(() => encodeAnnouncement({ ...announcement, name: 'x'.repeat(1025) })).toThrow(TypeError)
    expect(() => encodeHolderBeacon({ ...beacon, addrs: ['/ip4/1.2.3.4/tcp/1'.repeat(100)] })).toThrow(TypeError)
  })
})

describe('beacon throttle', () => {
  it('coalesces beacons that come too soon, sends the newest when the interval ends, and the first complete at once', async () => {
    const sent: HolderBeacon[] = []
    // random() = 1: the first beacon's phase puts it at once
    const throttle = new BeaconThrottle(200, async b => { sent.push(b) }, { random: () => 1 })
    await throttle.push({ ...beacon, have: 1 })
    await throttle.push({ ...beacon, have: 2 })
    await throttle.push({ ...beacon, have: 3 })
    expect(sent.map(b => b.have)).toEqual([1])

    await new Promise(resolve => setTimeout(resolve, 350))
    expect(sent.map(b => b.have)).toEqual([1, 3])

    await throttle.push({ ...beacon, have: 4 })
    await throttle.push({ ...beacon, have: 10, complete: true })
    expect(sent.map(b => b.have)).toEqual([1, 3, 10])
    // A repeat of the complete beacon waits its turn.
    await throttle.push({ ...beacon, have: 10, complete: true })
    expect(sent.map(b => b.have)).toEqual([1, 3, 10])

    await new Promise(resolve => setTimeout(resolve, 350))
    expect(sent.map(b => b.have)).toEqual([1, 3, 10, 10]) // the pending 4 was superseded
    throttle.clear()
  })

  it('sends a first beacon at a random moment of its interval', async () => {
    const sent: HolderBeacon[] = []
    const throttle = new BeaconThrottle(400, async b => { sent.push(b) }, { random: () => 0.5 })
    await throttle.push({ ...beacon, have: 1 })
    expect(sent).toEqual([])
    await new Promise(resolve => setTimeout(resolve, 350))
    expect(sent.map(b => b.have)).toEqual([1])
    throttle.clear()
  })

  it('waits longer the more holders it has heard, so the swarm\'s beacon rate stays flat', () => {
    const throttle = new BeaconThrottle(30_000, async () => {}, { perInterval: 8 })
    expect(throttle.intervalFor(beacon.id)).toBe(30_000)
    for (let i = 0; i < 7; i++) throttle.heard({ ...beacon, peer: `peer-${i}` })
    expect(throttle.intervalFor(beacon.id)).toBe(30_000) // 8 holders with us: one interval
    for (let i = 0; i < 47; i++) throttle.heard({ ...beacon, peer: `peer-${i}` })
    throttle.heard({ ...beacon, peer: 'peer-0' }) // heard again: counted once
    expect(throttle.intervalFor(beacon.id)).toBe(30_000 * 48 / 8)
    expect(throttle.intervalFor('another-artifact')).toBe(30_000)
  })
})
