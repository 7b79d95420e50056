/**
 * Which chunks a peer has, BitTorrent-style: bit i is in byte i>>3, most significant bit
 * first, so the bytes can go on the wire unchanged.
 */

/** A fixed-size set of chunk indices with an O(1) count. */
export class Bitfield {
  /** Number of bits (chunks). */
  readonly size: number
  readonly #bytes: Uint8Array
  #count: number

  /**
   * @param size - number of bits; 0 is valid (and complete)
   * @param bytes - initial contents (copied), validated like {@link Bitfield.fromBytes}
   * @throws {RangeError} on a bad size or bytes of the wrong length / with spare bits set
   */
  constructor (size: number, bytes?: Uint8Array) {
    if (!Number.isSafeInteger(size) || size < 0) throw new RangeError(`bitfield size must be a non-negative integer, got ${size}`)
    this.size = size
    const len = Math.ceil(size / 8)
    if (bytes == null) {
      this.#bytes = new Uint8Array(len)
      this.#count = 0
      return
    }
    if (bytes.byteLength !== len) throw new RangeError(`bitfield of ${size} bits needs ${len} bytes, got ${bytes.byteLength}`)
    const spare = len * 8 - size
    // Spare trailing bits must be zero (BitTorrent drops peers that set them).
    if (spare > 0 && (bytes[len - 1] & ((1 << spare) - 1)) !== 0) throw new RangeError('bitfield has spare trailing bits set')
    this.#bytes = Uint8Array.from(bytes)
    this.#count = 0
    for (const b of this.#bytes) this.#count += popcount(b)
  }

  /** Validate and copy wire bytes. Throws RangeError on wrong length or spare bits set. */
  static fromBytes (size: number, bytes: Uint8Array): Bitfield {
    return new Bitfield(size, bytes)
  }

  /** Whether bit `i` is set. */
  get (i: number): boolean {
    this.#check(i)
    return (this.#bytes[i >> 3] & (0x80 >> (i & 7))) !== 0
  }

  /**
   * Byte `j` of the wire form (bits 8j … 8j+7, most significant first), unchecked: 0 past the
   * end. For scanning many bits at once in hot loops.
   */
  byteAt (j: number): number {
    return this.#bytes[j] ?? 0
  }

  /** Set bit `i`; returns true if it was not set before. */
  set (i: number): boolean {
    if (this.get(i)) return false
    this.#bytes[i >> 3] |= 0x80 >> (i & 7)
    this.#count++
    return true
  }

  /** Clear bit `i`; returns true if it was set before. */
  unset (i: number): boolean {
    if (!this.get(i)) return false
    this.#bytes[i >> 3] &= ~(0x80 >> (i & 7))
    this.#count--
    return true
  }

  /** Number of set bits (cached). */
  count (): number {
    return this.#count
  }

  /** True when every bit is set (always true for size 0). */
  isComplete (): boolean {
    return this.#count === this.size
  }

  /** A copy of the bytes, length `ceil(size / 8)`. */
  toBytes (): Uint8Array {
    return Uint8Array.from(this.#bytes)
  }

  /** Indices of unset bits, ascending. */
  * missing (): Generator<number> {
    for (let i = 0; i < this.size; i++) {
      if (this.#bytes[i >> 3] === 0xff) { i += 7 - (i & 7); continue }
      if (!this.get(i)) yield i
    }
  }

  /** Indices of set bits, ascending. */
  * indices (): Generator<number> {
    for (let i = 0; i < this.size; i++) {
      if (this.#bytes[i >> 3] === 0) { i += 7 - (i & 7); continue }
      if (this.get(i)) yield i
    }
  }

  /** An independent copy. */
  clone (): Bitfield {
    return new Bitfield(this.size, this.#bytes)
  }

  #check (i: number): void {
    if (!Number.isInteger(i) || i < 0 || i >= this.size) throw new RangeError(`bit index ${i} out of range [0, ${this.size})`)
  }
}

function popcount (b: number): number {
  let n = 0
  for (; b !== 0; b &= b - 1) n++
  return n
}
