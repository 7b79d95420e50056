import * as dagCbor from '@ipld/dag-cbor'
import { CID } from 'multiformats/cid'
import {
  encodeManifest, decodeManifest, manifestSigningBytes, chunkCid, chunkCount, chunkLength, chunkOffset,
  isSafeName, ManifestError, ContentError, type Manifest
} from '../src/index.js'

const CS = 1024

function manifest (over: Partial<Manifest> = {}): Manifest {
  const size = over.size ?? CS * 2 + 10
  const chunkSize = over.chunkSize ?? CS
  return {
    version: 1,
    name: 'a.bin',
    size,
    chunkSize,
    chunks: Array.from({ length: chunkCount(size, chunkSize) }, (_, i) => chunkCid(Uint8Array.of(i))),
    createdAt: 1_700_000_000_000,
    ...over
  }
}

/** Encode without validation, as a hostile peer would. */
function rawEncode (o: Record<string, unknown>): Uint8Array {
  return dagCbor.encode(o)
}

describe('manifest', () => {
  it('round-trips with and without optional fields', () => {
    for (const m of [manifest(), manifest({ publisher: '12D3KooWabc', signature: Uint8Array.of(1, 2, 3) }), manifest({ size: 0, chunks: [] })]) {
      const { bytes, id } = encodeManifest(m)
      expect(id.code).toBe(0x71)
      expect(id.version).toBe(1)
      expect(decodeManifest(bytes, id)).toEqual(m)
    }
  })

  it('omits undefined optional fields', () => {
    const m = manifest({ publisher: undefined, signature: undefined })
    expect(encodeManifest(m).id.equals(encodeManifest(manifest()).id)).toBe(true)
  })

  it('signing bytes exclude the signature', () => {
    const unsigned = manifest({ publisher: 'p' })
    const signed = { ...unsigned, signature: Uint8Array.of(9) }
    expect(manifestSigningBytes(signed)).toEqual(manifestSigningBytes(unsigned))
    expect(manifestSigningBytes(unsigned)).toEqual(encodeManifest(unsigned).bytes)
    expect(encodeManifest(signed).id.equals(encodeManifest(unsigned).id)).toBe(false)
  })

  it('rejects bytes that do not match the expected id', () => {
    const a = encodeManifest(manifest())
    const b = encodeManifest(manifest({ name: 'b.bin' }))
    expect(() => decodeManifest(a.bytes, b.id)).toThrow(ManifestError)
    expect(() => decodeManifest(a.bytes, chunkCid(a.bytes))).toThrow(ManifestError)
  })

  it('rejects non-cbor garbage', () => {
    expect(() => decodeManifest(Uint8Array.of(0xff, 0x00, 0x13))).toThrow(ManifestError)
    expect(() => decodeManifest(rawEncode({ x: 1 }))).toThrow(ManifestError)
    expect(() => decodeManifest(dagCbor.encode([1, 2]))).toThrow(ManifestError)
  })

  const good = manifest() as unknown as Record<string, unknown>
  it.each<[string, Record<string, unknown>]>([
    ['wrong version', { ...good, version: 2 }],
    ['empty name', { ...good, name: '' }],
    ['name with /', { ...good, name: 'a/b' }],
    ['name with \\', { ...good, name: 'a\\b' }],
    ['name with NUL', { ...good, name: 'a\0b' }],
    ['name ..', { ...good, name: '..' }],
    ['name .', { ...good, name: '.' }],
    ['name too long', { ...good, name: 'é'.repeat(128) }],
    ['name not a string', { ...good, name: 5 }],
    ['negative size', { ...good, size: -1 }],
    ['fractional size', { ...good, size: 1.5 }],
    ['chunkSize too small', { ...good, chunkSize: 1023 }],
    ['chunkSize too large', { ...good, chunkSize: 4 * 1_048_576 + 1 }],
    ['too few chunks', { ...good, chunks: (good.chunks as CID[]).slice(1) }],
    ['too many chunks', { ...good, chunks: [...(good.chunks as CID[]), chunkCid(new Uint8Array(0))] }],
    ['non-raw chunk', { ...good, chunks: [CID.createV1(0x71, chunkCid(new Uint8Array(0)).multihash), ...(good.chunks as CID[]).slice(1)] }],
    ['chunk not a CID', { ...good, chunks: ['x', ...(good.chunks as CID[]).slice(1)] }],
    ['createdAt not a number', { ...good, createdAt: '2024' }],
    ['unknown field', { ...good, extra: 1 }]
  ])('rejects %s', (_, bad) => {
    const bytes = rawEncode(bad)
    const err = (() => { try { decodeManifest(bytes) } catch (e) { return e } })()
    expect(err).toBeInstanceOf(ManifestError)
    expect(err).toBeInstanceOf(ContentError)
    expect((err as ManifestError).code).toBe('ERR_BAD_MANIFEST')
  })

  it('encodeManifest refuses an invalid manifest', () => {
    expect(() => encodeManifest(manifest({ name: '../etc/passwd' }))).toThrow(ManifestError)
  })
})

describe('helpers', () => {
  it('computes counts, offsets and lengths', () => {
    expect(chunkCount(0, CS)).toBe(0)
    expect(chunkCount(1, CS)).toBe(1)
    expect(chunkCount(CS, CS)).toBe(1)
    expect(chunkCount(CS + 1, CS)).toBe(2)
    expect(chunkOffset(3, CS)).toBe(3 * CS)
    const m = manifest({ size: CS * 2 + 10 })
    expect(chunkLength(m, 0)).toBe(CS)
    expect(chunkLength(m, 2)).toBe(10)
    expect(() => chunkLength(m, 3)).toThrow(RangeError)
  })

  it('isSafeName', () => {
    expect(isSafeName('build-1.2.tar.gz')).toBe(true)
    expect(isSafeName('a'.repeat(255))).toBe(true)
    expect(isSafeName('a'.repeat(256))).toBe(false)
    expect(isSafeName('..')).toBe(false)
    expect(isSafeName(undefined)).toBe(false)
  })
})
