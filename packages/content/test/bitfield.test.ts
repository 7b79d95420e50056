import { Bitfield } from '../src/index.js'

describe('Bitfield', () => {
  it('sets, counts and round-trips MSB-first', () => {
    const b = new Bitfield(10)
    expect(b.count()).toBe(0)
    expect(b.set(0)).toBe(true)
    expect(b.set(0)).toBe(false)
    b.set(9)
    expect(b.count()).toBe(2)
    expect(b.toBytes()).toEqual(Uint8Array.from([0x80, 0x40]))
    const c = Bitfield.fromBytes(10, b.toBytes())
    expect([...c.indices()]).toEqual([0, 9])
    expect([...c.missing()]).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(c.count()).toBe(2)
    c.unset(0)
    expect(c.get(0)).toBe(false)
    expect(b.get(0)).toBe(true)
    expect(c.count()).toBe(1)
  })

  it('is complete when all bits are set, and for size 0', () => {
    expect(new Bitfield(0).isComplete()).toBe(true)
    expect(new Bitfield(0).toBytes().byteLength).toBe(0)
    const b = new Bitfield(17)
    for (let i = 0; i < 17; i++) b.set(i)
    expect(b.isComplete()).toBe(true)
    expect([...b.missing()]).toEqual([])
    expect([...b.indices()]).toHaveLength(17)
  })

  it('toBytes returns a copy; clone is independent', () => {
    const b = new Bitfield(8)
    b.toBytes()[0] = 0xff
    expect(b.count()).toBe(0)
    const c = b.clone()
    c.set(1)
    expect(b.get(1)).toBe(false)
  })

  it('validates length and spare bits', () => {
    expect(() => Bitfield.fromBytes(10, new Uint8Array(1))).toThrow(RangeError)
    expect(() => Bitfield.fromBytes(10, new Uint8Array(3))).toThrow(RangeError)
    expect(() => Bitfield.fromBytes(10, Uint8Array.from([0, 0x20]))).toThrow(RangeError)
    expect(Bitfield.fromBytes(10, Uint8Array.from([0xff, 0xc0])).isComplete()).toBe(true)
    expect(() => new Bitfield(-1)).toThrow(RangeError)
  })

  it('rejects out-of-range indices', () => {
    const b = new Bitfield(4)
    expect(() => b.get(4)).toThrow(RangeError)
    expect(() => b.set(-1)).toThrow(RangeError)
    expect(() => b.set(1.5)).toThrow(RangeError)
  })
})
