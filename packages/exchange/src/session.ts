/**
 * One exchange stream with one peer about one artifact. It owns the stream's I/O: it reads
 * frames and hands them to its {@link SessionHost}, queues outgoing control frames, and serves
 * the peer's requests one block at a time with backpressure. It makes no decisions about what
 * to download; the host (and its scheduler) does.
 */
import { setMaxListeners } from 'node:events'
import { bytes, encodeFrame, readFrames, writeBytes } from './wire.js'
import type { TokenBucket } from './rate-limit.js'
import type { Message, Handshake, ManifestPart, PexPeer } from './pb/message.js'
import type { PeerId, Stream } from '@libp2p/interface'

/** What a session reports to, and asks of, the artifact it belongs to */
export interface SessionHost {
  onHandshake(session: Session, handshake: Handshake): Promise<void> | void
  onHave(session: Session, indices: number[]): void
  onBlock(session: Session, index: number, data: Uint8Array): Promise<void> | void
  onReject(session: Session, indices: number[], reason: string): void
  /** Bytes arrived on the stream, whole frames or not (a block shows here while it arrives) */
  onBytes?(session: Session, bytes: number): void
  onPex(session: Session, peers: PexPeer[]): void
  /** A piece of the manifest the peer sends us (or passes on) in parts */
  onManifestPart?(session: Session, part: ManifestPart): Promise<void> | void
  onClose(session: Session, err?: Error): void
  /** Bytes of a verified chunk to serve, or undefined when it is not held */
  readChunk(index: number): Promise<Uint8Array | undefined>
  /** A block was handed to the stream */
  onSent?(session: Session, index: number): void
}

/** A host that ignores everything and holds nothing: for a stream only answered with a refusal */
export const NULL_HOST: SessionHost = {
  onHandshake () {},
  onHave () {},
  onBlock () {},
  onReject () {},
  onPex () {},
  onClose () {},
  async readChunk () { return undefined }
}

export interface SessionInit {
  maxMessageSize: number
  /** Requests queued from this peer beyond this are rejected */
  maxQueuedRequests: number
  /** The node-wide upload cap, shared by every session */
  upload?: TokenBucket
  /** The node-wide download cap, shared by every session */
  download?: TokenBucket
}

export class Session {
  readonly peerId: PeerId
  readonly peer: string
  readonly outbound: boolean
  /** Bytes of block payload sent to / received from this peer */
  bytesSent = 0
  bytesReceived = 0
  /** When we last sent this peer a block (epoch ms; 0 = never) */
  lastSentAt = 0
  /** Handshakes the peer sent: the first opens the session, later ones update it */
  handshakesReceived = 0
  private readonly stream: Stream
  private readonly host: SessionHost
  private readonly init: SessionInit
  private readonly uploads: number[] = []
  private serving = false
  /** The block being read or paced for sending; a cancel that names it clears this */
  private current?: number
  private closed = false
  private readonly abort = new AbortController()
  /** Haves held back by {@link haveLater}, and the timer that sends them */
  private laterHaves: number[] = []
  private laterTimer?: ReturnType<typeof setTimeout>
  /** Frames sent while a block goes out in paced slices; they follow it, never split it */
  private afterBlock?: Message[]
  /** The last write queued: each waits for the one before, so frames leave in order */
  private writing: Promise<void> = Promise.resolve()

  constructor (stream: Stream, remotePeer: PeerId, host: SessionHost, init: SessionInit) {
    this.stream = stream
    this.peerId = remotePeer
    this.peer = remotePeer.toString()
    this.outbound = stream.direction === 'outbound'
    this.host = host
    this.init = init
    // Every send waiting on backpressure listens on this signal.
    setMaxListeners(Infinity, this.abort.signal)
  }

  /** Whether the peer has sent its handshake */
  get handshaken (): boolean {
    return this.handshakesReceived > 0
  }

  get isClosed (): boolean {
    return this.closed
  }

  /** Haves held back by {@link haveLater}, not yet sent */
  get heldHaves (): number {
    return this.laterHaves.length
  }

  /** Whether the peer has requests queued with us or a block on its way */
  get isUploading (): boolean {
    return this.uploads.length > 0 || this.current != null
  }

  /**
   * Read frames until the stream ends; resolves when the session is over. An inbound session
   * passes the frames it already started reading and the handshake it read from them.
   */
  async run (frames?: AsyncGenerator<Message>, first?: Message): Promise<void> {
    let error: Error | undefined
    try {
      if (first != null) await this.dispatch(first)
      for await (const msg of frames ?? readFrames(this.stream, this.init.maxMessageSize, n => { this.bytesRead(n) })) {
        if (this.closed) break
        if (msg.block != null) await this.receiveBlock(msg)
        else await this.dispatch(msg)
      }
    } catch (err: any) {
      error = err
    } finally {
      this.finish(error)
    }
  }

  /** `n` bytes were read from the stream (the host hears of them before they make a frame) */
  bytesRead (n: number): void {
    this.host.onBytes?.(this, n)
  }

  send (msg: Message): void {
    if (this.closed) return
    // Held-back haves ride along with whatever goes out first (one write, one packet).
    if (msg.have == null && this.laterHaves.length > 0) this.flushHaves()
    if (this.afterBlock != null) this.afterBlock.push(msg)
    else this.write(encodeFrame(msg)).catch(err => { this.close(err) })
  }

  handshake (hs: Handshake): void { this.send({ handshake: hs }) }
  request (indices: number[]): void { if (indices.length > 0) this.send({ request: { indices } }) }
  cancel (indices: number[]): void { if (indices.length > 0) this.send({ cancel: { indices } }) }
  have (indices: number[]): void { if (indices.length > 0) this.send({ have: { indices } }) }
  reject (indices: number[], reason: string): void { this.send({ reject: { indices, reason } }) }
  pex (peers: PexPeer[]): void { if (peers.length > 0) this.send({ pex: { peers } }) }
  manifestPart (part: ManifestPart): void { this.send({ manifestPart: part }) }

  /**
   * Haves that may wait up to `delayMs`, gathered into one frame (or sent along with the next
   * frame that goes out sooner, a block included, or as soon as `maxHeld` wait). Each small
   * frame is a packet on its own, and an ACK for it on the peer's uplink; `maxHeld` keeps a fast
   * link, where many chunks land within `delayMs`, from hiding them from the peer for that long.
   */
  haveLater (indices: number[], delayMs: number, maxHeld = Infinity): void {
    if (indices.length === 0 || this.closed) return
    this.laterHaves.push(...indices)
    if (this.laterHaves.length >= maxHeld) this.flushHaves()
    else this.laterTimer ??= setTimeout(() => { this.flushHaves() }, delayMs)
  }

  private flushHaves (): void {
    clearTimeout(this.laterTimer)
    this.laterTimer = undefined
    const indices = this.laterHaves
    this.laterHaves = []
    this.have(indices)
  }

  /** End the session; the stream is closed gracefully, or aborted when `err` is given */
  close (err?: Error): void {
    if (this.closed) return
    if (err != null) this.stream.abort(err)
    else this.stream.close().catch(e => { this.stream.abort(e) })
    this.finish(err)
  }

  private finish (err?: Error): void {
    if (this.closed) return
    this.closed = true
    this.uploads.length = 0
    clearTimeout(this.laterTimer)
    this.laterHaves = []
    this.abort.abort()
    this.host.onClose(this, err)
  }

  /**
   * While a block is paced by the download cap, verified and written, the stream is paused:
   * yamux then stops granting the sender window, so the cap holds on the wire and unread data
   * cannot pile up in memory.
   */
  private async receiveBlock (msg: Message): Promise<void> {
    const paused = this.setPaused(true)
    try {
      await this.init.download?.take(msg.block?.data.byteLength ?? 0, this.abort.signal)
      await this.dispatch(msg)
    } finally {
      if (paused) this.setPaused(false)
    }
  }

  private setPaused (pause: boolean): boolean {
    try {
      if (pause) this.stream.pause()
      else this.stream.resume()
      return true
    } catch {
      return false // the stream is closing; nothing left to pace
    }
  }

  private async dispatch (msg: Message): Promise<void> {
    if (msg.handshake != null) {
      this.handshakesReceived++
      await this.host.onHandshake(this, msg.handshake)
      return
    }
    if (!this.handshaken) {
      // A peer that does not hold the artifact refuses the whole session in place of a handshake.
      if (msg.reject != null && msg.reject.indices.length === 0) {
        this.host.onReject(this, [], msg.reject.reason)
        return
      }
      throw new Error('peer sent a message before its handshake')
    }
    if (msg.have != null) this.host.onHave(this, msg.have.indices)
    if (msg.request != null) this.enqueue(msg.request.indices)
    if (msg.cancel != null) {
      const cancelled = new Set(msg.cancel.indices)
      if (this.current != null && cancelled.has(this.current)) this.current = undefined
      const kept = this.uploads.filter(i => !cancelled.has(i))
      this.uploads.splice(0, this.uploads.length, ...kept)
    }
    if (msg.block != null) {
      this.bytesReceived += msg.block.data.byteLength
      await this.host.onBlock(this, msg.block.index, msg.block.data)
    }
    if (msg.reject != null) this.host.onReject(this, msg.reject.indices, msg.reject.reason)
    if (msg.pex != null) this.host.onPex(this, msg.pex.peers)
    if (msg.manifestPart != null) await this.host.onManifestPart?.(this, msg.manifestPart)
  }

  private enqueue (indices: number[]): void {
    const room = this.init.maxQueuedRequests - this.uploads.length
    const accepted = indices.slice(0, Math.max(0, room))
    const refused = indices.slice(accepted.length)
    this.uploads.push(...accepted)
    if (refused.length > 0) this.reject(refused, 'too many queued requests')
    if (!this.serving) void this.serve()
  }

  /** Send queued blocks one at a time, waiting on backpressure between them */
  private async serve (): Promise<void> {
    this.serving = true
    try {
      while (!this.closed && this.uploads.length > 0) {
        const index = this.uploads.shift() as number
        this.current = index
        const data = await this.host.readChunk(index)
        if (this.closed) break
        if (data == null) {
          this.reject([index], 'not held')
          continue
        }
        const frame = encodeFrame({ block: { index, data: bytes(data) } })
        if (!await this.writeBlock(frame, index)) {
          if (this.closed) break
          continue // cancelled while it waited for the upload cap: the peer got it elsewhere
        }
        this.bytesSent += data.byteLength
        this.lastSentAt = Date.now()
        this.current = undefined
        this.host.onSent?.(this, index)
      }
    } catch (err: any) {
      this.close(err)
    } finally {
      this.current = undefined
      this.serving = false
    }
  }

  /**
   * Write a block's frame; false if it was cancelled (or the session closed) before its first
   * byte. Under an upload cap it goes in slices as the cap allows ({@link TokenBucket.slices}):
   * a whole block at once left at the link's speed and then paused. With 1 MiB chunks and a
   * 5 Mbit/s cap, 10 s windows on the wire (loopback capture) carried 0.84–1.01 × the cap that
   * way, 1.00 in slices. Frames sent meanwhile wait for the block's end, so none lands inside.
   */
  private async writeBlock (frame: Uint8Array, index: number): Promise<boolean> {
    const slices = this.init.upload?.slices(frame.byteLength, this.abort.signal) ?? unpaced(frame.byteLength)
    let started = false
    try {
      for await (const [from, to] of slices) {
        if (!started) {
          if (this.closed || this.current !== index) return false
          // Held-back haves go just ahead of the block, in its first packet.
          if (this.laterHaves.length > 0) this.flushHaves()
          this.afterBlock = []
          started = true
        }
        await this.write(frame.subarray(from, to))
      }
      return started
    } finally {
      const held = this.afterBlock ?? []
      this.afterBlock = undefined
      for (const msg of held) this.send(msg)
    }
  }

  /**
   * Queue bytes behind every earlier write; each waits for the stream to drain when its buffer
   * is full, so a fast sender cannot queue a whole artifact in memory.
   */
  private async write (data: Uint8Array): Promise<void> {
    const done = this.writing.then(async () => { await writeBytes(this.stream, data, this.abort.signal) })
    this.writing = done.catch(() => {})
    await done
  }
}

/** Without an upload cap a block goes out in one piece */
async function * unpaced (bytes: number): AsyncGenerator<[number, number]> {
  yield [0, bytes]
}
