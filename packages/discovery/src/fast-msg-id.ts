import { createHash } from 'node:crypto'

/** The parts of a gossipsub RPC message that make it unique */
export interface RpcMessageFields {
  from?: Uint8Array
  seqno?: Uint8Array
  data?: Uint8Array
  signature?: Uint8Array
  topic: string
}

/**
 * Gossipsub's `fastMsgIdFn`: a hash of the whole message as received, so a
 * copy arriving from a second mesh peer is dropped before its signature is
 * checked again. Without it every copy (each message comes from up to D peers)
 * costs an ed25519 verify, about a tenth of a node's CPU in a busy swarm.
 * Gossipsub caches the id only after the first copy validated, so a forged
 * message cannot shadow the real one.
 */
export function fastMsgId (msg: RpcMessageFields): string {
  const h = createHash('sha1')
  h.update(msg.topic)
  for (const part of [msg.from, msg.seqno, msg.data, msg.signature]) {
    // length-prefixed, so no two messages hash the same input
    h.update(String(part?.byteLength ?? -1) + ':')
    if (part != null) h.update(part)
  }
  return h.digest('base64')
}
