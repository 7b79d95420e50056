import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { PexDecoder, PEX_MAX_ADDRS, PEX_MAX_PEERS } from '../src/pex-decoder.js'
import type { PexPeer } from '../src/pb/message.js'

const IDS = [
  '12D3KooWKkcy1Dk7PTVbrynrSDMdXy1nfP4fA1CKk6JiJ3KeDhCQ',
  '12D3KooWPzt8pkQakjt1LHfDuk7WxQXie3iqb6VpJhcFhgz2HVkH',
  '12D3KooWFNRePnH7WMCbrZ3iLMP7yDy1FpxbzQdvzJDbDEG4qCSb'
]

function entry (id: string, ...addrs: string[]): PexPeer {
  return {
    id: peerIdFromString(id).toMultihash().bytes,
    addrs: addrs.map(a => multiaddr(a).bytes)
  }
}

describe('PexDecoder', () => {
  it('decodes entries into peer ids and multiaddrs', () => {
    const [c] = new PexDecoder().decode([entry(IDS[0], '/ip4/127.0.0.1/tcp/4001', '/ip4/10.0.0.2/tcp/4002')])
    expect(c.id.toString()).toBe(IDS[0])
    expect(c.multiaddrs.map(a => a.toString())).toEqual(['/ip4/127.0.0.1/tcp/4001', '/ip4/10.0.0.2/tcp/4002'])
  })

  it('returns the same objects for a peer heard of again (nothing parsed twice)', () => {
    const pex = new PexDecoder()
    const [first] = pex.decode([entry(IDS[0], '/ip4/127.0.0.1/tcp/4001')])
    const [again] = pex.decode([entry(IDS[0], '/ip4/127.0.0.1/tcp/4001')]) // fresh byte arrays, equal content
    expect(again).toBe(first)
    expect(again.id).toBe(first.id)
  })

  it('picks up new addresses of a known peer, keeping its id', () => {
    const pex = new PexDecoder()
    const [first] = pex.decode([entry(IDS[0], '/ip4/127.0.0.1/tcp/4001')])
    const [moved] = pex.decode([entry(IDS[0], '/ip4/127.0.0.1/tcp/5001')])
    expect(moved.id).toBe(first.id)
    expect(moved.multiaddrs.map(a => a.toString())).toEqual(['/ip4/127.0.0.1/tcp/5001'])
    expect(pex.decode([entry(IDS[0], '/ip4/127.0.0.1/tcp/5001')])[0]).toBe(moved)
  })

  it('skips malformed entries and keeps the rest', () => {
    const bad: PexPeer = { id: new Uint8Array([1, 2, 3]), addrs: [] }
    const badAddr: PexPeer = { id: peerIdFromString(IDS[2]).toMultihash().bytes, addrs: [new Uint8Array([0xff, 0xff, 0xff])] }
    const out = new PexDecoder().decode([bad, entry(IDS[1], '/ip4/127.0.0.1/tcp/4001'), badAddr])
    expect(out.map(c => c.id.toString())).toEqual([IDS[1]])
  })

  it(`reads at most ${PEX_MAX_PEERS} entries per message and ${PEX_MAX_ADDRS} addresses per entry`, () => {
    const addrs = Array.from({ length: PEX_MAX_ADDRS + 4 }, (_, i) => `/ip4/127.0.0.1/tcp/${4000 + i}`)
    const many = Array.from({ length: PEX_MAX_PEERS + 10 }, () => entry(IDS[0], ...addrs))
    const out = new PexDecoder().decode(many)
    expect(out).toHaveLength(PEX_MAX_PEERS)
    expect(out[0].multiaddrs).toHaveLength(PEX_MAX_ADDRS)
  })

  it('forgets the peer heard of least recently once full', () => {
    const pex = new PexDecoder(2)
    const [a] = pex.decode([entry(IDS[0], '/ip4/127.0.0.1/tcp/1')])
    const [b] = pex.decode([entry(IDS[1], '/ip4/127.0.0.1/tcp/2')])
    expect(pex.decode([entry(IDS[0], '/ip4/127.0.0.1/tcp/1')])[0]).toBe(a) // a is now the most recent
    pex.decode([entry(IDS[2], '/ip4/127.0.0.1/tcp/3')]) // evicts b
    expect(pex.decode([entry(IDS[0], '/ip4/127.0.0.1/tcp/1')])[0]).toBe(a)
    const [b2] = pex.decode([entry(IDS[1], '/ip4/127.0.0.1/tcp/2')])
    expect(b2).not.toBe(b)
    expect(b2.id.equals(b.id)).toBe(true)
  })
})
