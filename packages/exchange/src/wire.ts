/**
 * Framing for exchange streams: each frame is a varint length followed by one protobuf
 * `Message`. Reading enforces a size limit so a peer cannot make us buffer without bound.
 */
import { LengthPrefixedDecoder } from '@libp2p/utils'
import { Message } from './pb/message.js'
import type { Stream } from '@libp2p/interface'

export { Message }

/** Encode one message as a length-prefixed frame */
export function encodeFrame (msg: Message): Uint8Array {
  const body = Message.encode(msg)
  const prefix = varint(body.byteLength)
  const frame = new Uint8Array(prefix.byteLength + body.byteLength)
  frame.set(prefix, 0)
  frame.set(body, prefix.byteLength)
  return frame
}

/**
 * Decode frames from a stream until it ends; throws on an oversized or malformed frame.
 * `onBytes` hears of every piece read, before it makes up a whole frame.
 */
export async function * readFrames (stream: Stream, maxMessageSize: number, onBytes?: (n: number) => void): AsyncGenerator<Message> {
  const decoder = new LengthPrefixedDecoder({ maxDataLength: maxMessageSize, maxBufferSize: maxMessageSize * 2 })
  for await (const chunk of stream) {
    onBytes?.(chunk.byteLength)
    for (const frame of decoder.decode(chunk)) {
      yield Message.decode(frame)
    }
  }
}

/**
 * Send bytes (a frame or a slice of one), first waiting for the stream to drain when its buffer
 * is full, so a fast sender cannot queue a whole artifact in memory.
 */
export async function writeBytes (stream: Stream, data: Uint8Array, signal?: AbortSignal): Promise<void> {
  if (stream.writableNeedsDrain) await stream.onDrain({ signal })
  stream.send(data)
}

function varint (n: number): Uint8Array {
  const out: number[] = []
  while (n >= 0x80) {
    out.push((n & 0x7f) | 0x80)
    n = Math.floor(n / 128)
  }
  out.push(n)
  return Uint8Array.from(out)
}

/** protons types fields as `Uint8Array<ArrayBuffer>`; our buffers never are shared, so narrow */
export function bytes (b: Uint8Array): Uint8Array<ArrayBuffer> {
  return b as Uint8Array<ArrayBuffer>
}
