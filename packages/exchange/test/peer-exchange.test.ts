/**
 * Peer exchange from one node's side: a new session hears at once who else trades the artifact,
 * and the others hear of the newcomers together at the next tick, one message per session (not
 * one per newcomer per session, which at a swarm's start was O(sessions²) messages).
 */
import { peerIdFromMultihash } from '@libp2p/peer-id'
import * as Digest from 'multiformats/hashes/digest'
import { Transfer } from '../src/transfer.js'
import { FakeSession, PEERS, context, handleOf, handshake, receive, smallArtifact } from './transfer-fakes.js'
import type { ChunkedFile } from '@shoal/content'
import type { PexPeer } from '../src/pb/message.js'
import type { Session } from '../src/session.js'

let artifact: ChunkedFile
let cleanup: () => Promise<void>

beforeAll(async () => { ({ artifact, cleanup } = await smallArtifact()) })
afterAll(async () => { await cleanup() })

/** The peer ids a pex message names */
function named (peers: PexPeer[]): string[] {
  return peers.map(p => peerIdFromMultihash(Digest.decode(p.id)).toString())
}

async function holderWith (sessions: FakeSession[]): Promise<Transfer> {
  const holder = new Transfer(artifact.id, context(), handleOf(artifact.manifest, artifact.manifestBytes, true))
  for (const s of sessions) {
    expect(holder.attach(s as unknown as Session)).toBe(true)
    await receive(holder, s, handshake(artifact))
  }
  return holder
}

describe('peer exchange', () => {
  it('tells a new session at once who else is here', async () => {
    const sessions = PEERS.slice(0, 4).map(p => new FakeSession(p, false))
    await holderWith(sessions)
    expect(sessions[0].pexes).toEqual([]) // it came first: nobody to name
    expect(sessions.slice(1).map(s => named(s.pexes[0]))).toEqual([
      PEERS.slice(0, 1), PEERS.slice(0, 2), PEERS.slice(0, 3)
    ])
  })

  it('sends the newcomers since the last tick to each session in one message, then nothing more', async () => {
    const sessions = PEERS.map(p => new FakeSession(p, false))
    const holder = await holderWith(sessions)
    const before = sessions.map(s => s.pexes.length)
    holder.tick()
    for (const [k, s] of sessions.entries()) {
      expect(s.pexes).toHaveLength(before[k] + 1)
      expect(named(s.pexes[s.pexes.length - 1]).sort()).toEqual(PEERS.filter(p => p !== s.peer).sort())
    }
    holder.tick()
    expect(sessions.map(s => s.pexes.length)).toEqual(before.map(n => n + 1))
  })

  it('does not pass on a newcomer that left before the tick', async () => {
    const [a, b, gone] = PEERS.slice(0, 3).map(p => new FakeSession(p, false))
    const holder = await holderWith([a, b, gone])
    holder.onClose(gone as unknown as Session)
    holder.tick()
    expect(named(a.pexes[a.pexes.length - 1])).toEqual([PEERS[1]])
    expect(named(b.pexes[b.pexes.length - 1])).toEqual([PEERS[0]])
  })
})
