/**
 * The publisher's side. In `'super-seed'` mode (the default) it runs `SuperSeeder` from
 * `@shoal/exchange`: its handshake bitfield is empty and it reveals chunks one `have` at a time,
 * so each chunk goes out once before any goes twice. In `'seed'` mode it is a plain seed that
 * advertises every chunk in its handshake (the baseline to compare with).
 */
import { SuperSeeder } from '@shoal/exchange'
import type { RevealAction } from '@shoal/exchange'
import type { Bitfield } from '@shoal/content'

/** How the publisher decides what to advertise, to whom */
export interface PublisherPolicy {
  readonly mode: 'seed' | 'super-seed'
  /** Whether the handshake bitfield advertises every chunk */
  readonly advertisesAll: boolean
  addPeer(peer: string, bitfield: Bitfield): RevealAction[]
  removePeer(peer: string): RevealAction[]
  onHave(peer: string, index: number): RevealAction[]
  onSent(peer: string, index: number): RevealAction[]
}

const NONE: RevealAction[] = []

export function createPublisher (mode: 'seed' | 'super-seed', chunks: number, random: () => number, revealPerPeer?: number): PublisherPolicy {
  if (mode === 'seed') {
    return {
      mode,
      advertisesAll: true,
      addPeer: () => NONE,
      removePeer: () => NONE,
      onHave: () => NONE,
      onSent: () => NONE
    }
  }
  const s = new SuperSeeder(revealPerPeer == null ? { chunks, random } : { chunks, random, revealPerPeer })
  return {
    mode,
    advertisesAll: false,
    addPeer: (peer, bitfield) => s.addPeer(peer, bitfield),
    removePeer: peer => s.removePeer(peer),
    onHave: (peer, index) => s.onHave(peer, index),
    onSent: (peer, index) => s.onSent(peer, index)
  }
}
