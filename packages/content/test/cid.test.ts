import { CID } from 'multiformats/cid'
import { sha256 } from 'multiformats/hashes/sha2'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { RAW_CODEC, chunkCid, verifyChunk, parseArtifactId, encodeManifest, ContentError, formatBytes } from '../src/index.js'

const enc = new TextEncoder()

describe('chunkCid', () => {
  it('gives the well-known raw CID of empty bytes', () => {
    expect(chunkCid(new Uint8Array(0)).toString()).toBe('bafkreihdwdcefgh4dqkjv67uzcmw7ojee6xedzdetojuzjevtenxquvyku')
  })

  it('matches multiformats sha256 for "hello world\\n"', async () => {
    const bytes = enc.encode('hello world\n')
    const expected = CID.createV1(raw.code, await sha256.digest(bytes))
    const got = chunkCid(bytes)
    expect(got.equals(expected)).toBe(true)
    expect(got.code).toBe(RAW_CODEC)
    expect(got.toString()).toBe(expected.toString())
  })
})

describe('verifyChunk', () => {
  const bytes = enc.encode('some chunk bytes')
  const cid = chunkCid(bytes)

  it('accepts matching bytes', () => {
    expect(verifyChunk(cid, bytes)).toBe(true)
  })

  it('rejects a flipped byte', () => {
    const bad = Uint8Array.from(bytes)
    bad[3] ^= 1
    expect(verifyChunk(cid, bad)).toBe(false)
  })

  it('rejects the wrong codec', () => {
    expect(verifyChunk(CID.createV1(0x71, cid.multihash), bytes)).toBe(false)
  })

  it('rejects a non-sha256 multihash', () => {
    expect(verifyChunk(CID.createV1(RAW_CODEC, Digest.create(0x13, cid.multihash.digest)), bytes)).toBe(false)
  })

  it('never throws on garbage', () => {
    expect(verifyChunk(null as any, bytes)).toBe(false)
    expect(verifyChunk({} as any, bytes)).toBe(false)
    expect(verifyChunk('bafk' as any, bytes)).toBe(false)
    expect(verifyChunk(cid, null as any)).toBe(false)
  })
})

describe('parseArtifactId', () => {
  const { id } = encodeManifest({ version: 1, name: 'a', size: 0, chunkSize: 1024, chunks: [], createdAt: 0 })

  it('parses a manifest id', () => {
    expect(parseArtifactId(id.toString()).equals(id)).toBe(true)
  })

  it.each(['', 'nope', chunkCid(new Uint8Array(1)).toString(), 'QmYwAPJzv5CZsnA625s3Xf2nemtYgPpHdWEz79ojWnPbdG'])('rejects %p', (s) => {
    expect(() => parseArtifactId(s)).toThrow(ContentError)
    try { parseArtifactId(s) } catch (err) { expect((err as ContentError).code).toBe('ERR_BAD_ARTIFACT_ID') }
  })
})

describe('formatBytes', () => {
  it('prints bytes, then binary units', () => {
    expect(formatBytes(0)).toBe('0 B')
    expect(formatBytes(1023)).toBe('1023 B')
    expect(formatBytes(1536)).toBe('1.50 KiB')
    expect(formatBytes(64 * 1024 * 1024)).toBe('64.0 MiB')
  })
})
