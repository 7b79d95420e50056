import { decodeMessage, encodeMessage, MaxLengthError, message, streamMessage } from 'protons-runtime'
import { alloc as uint8ArrayAlloc } from 'uint8arrays/alloc'
import type { Codec, DecodeOptions } from 'protons-runtime'
import type { Uint8ArrayList } from 'uint8arraylist'

export interface Message {
  handshake?: Handshake
  have?: Have
  request?: Request
  block?: Block
  cancel?: Cancel
  reject?: Reject
  pex?: Pex
  manifestPart?: ManifestPart
}

export namespace Message {
  let _codec: Codec<Message>

  export const codec = (): Codec<Message> => {
    if (_codec == null) {
      _codec = message<Message>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.handshake != null) {
          w.uint32(10)
          Handshake.codec().encode(obj.handshake, w)
        }

        if (obj.have != null) {
          w.uint32(18)
          Have.codec().encode(obj.have, w)
        }

        if (obj.request != null) {
          w.uint32(26)
          Request.codec().encode(obj.request, w)
        }

        if (obj.block != null) {
          w.uint32(34)
          Block.codec().encode(obj.block, w)
        }

        if (obj.cancel != null) {
          w.uint32(42)
          Cancel.codec().encode(obj.cancel, w)
        }

        if (obj.reject != null) {
          w.uint32(50)
          Reject.codec().encode(obj.reject, w)
        }

        if (obj.pex != null) {
          w.uint32(58)
          Pex.codec().encode(obj.pex, w)
        }

        if (obj.manifestPart != null) {
          w.uint32(66)
          ManifestPart.codec().encode(obj.manifestPart, w)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {}

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.handshake = Handshake.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.handshake
              })
              break
            }
            case 2: {
              obj.have = Have.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.have
              })
              break
            }
            case 3: {
              obj.request = Request.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.request
              })
              break
            }
            case 4: {
              obj.block = Block.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.block
              })
              break
            }
            case 5: {
              obj.cancel = Cancel.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.cancel
              })
              break
            }
            case 6: {
              obj.reject = Reject.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.reject
              })
              break
            }
            case 7: {
              obj.pex = Pex.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.pex
              })
              break
            }
            case 8: {
              obj.manifestPart = ManifestPart.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.manifestPart
              })
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield * Handshake.codec().stream(reader, reader.uint32(), `${prefix}.handshake`, {
                limits: opts.limits?.handshake
              })

              break
            }
            case 2: {
              yield * Have.codec().stream(reader, reader.uint32(), `${prefix}.have`, {
                limits: opts.limits?.have
              })

              break
            }
            case 3: {
              yield * Request.codec().stream(reader, reader.uint32(), `${prefix}.request`, {
                limits: opts.limits?.request
              })

              break
            }
            case 4: {
              yield * Block.codec().stream(reader, reader.uint32(), `${prefix}.block`, {
                limits: opts.limits?.block
              })

              break
            }
            case 5: {
              yield * Cancel.codec().stream(reader, reader.uint32(), `${prefix}.cancel`, {
                limits: opts.limits?.cancel
              })

              break
            }
            case 6: {
              yield * Reject.codec().stream(reader, reader.uint32(), `${prefix}.reject`, {
                limits: opts.limits?.reject
              })

              break
            }
            case 7: {
              yield * Pex.codec().stream(reader, reader.uint32(), `${prefix}.pex`, {
                limits: opts.limits?.pex
              })

              break
            }
            case 8: {
              yield * ManifestPart.codec().stream(reader, reader.uint32(), `${prefix}.manifestPart`, {
                limits: opts.limits?.manifestPart
              })

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface MessageHandshakeArtifactFieldEvent {
    field: '$.handshake.artifact'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MessageHandshakeBitfieldFieldEvent {
    field: '$.handshake.bitfield'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MessageHandshakeWantManifestFieldEvent {
    field: '$.handshake.wantManifest'
    value: boolean
  }

  export interface MessageHandshakeManifestFieldEvent {
    field: '$.handshake.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MessageHandshakeSuperSeedingFieldEvent {
    field: '$.handshake.superSeeding'
    value: boolean
  }

  export interface MessageHandshakeSendManifestFieldEvent {
    field: '$.handshake.sendManifest'
    value: boolean
  }

  export interface MessageHandshakeRelaysManifestFieldEvent {
    field: '$.handshake.relaysManifest'
    value: boolean
  }

  export interface MessageHandshakeManifestInPartsFieldEvent {
    field: '$.handshake.manifestInParts'
    value: boolean
  }

  export interface MessageHaveIndicesFieldEvent {
    field: '$.have.indices[]'
    index: number
    value: number
  }

  export interface MessageRequestIndicesFieldEvent {
    field: '$.request.indices[]'
    index: number
    value: number
  }

  export interface MessageBlockIndexFieldEvent {
    field: '$.block.index'
    value: number
  }

  export interface MessageBlockDataFieldEvent {
    field: '$.block.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MessageCancelIndicesFieldEvent {
    field: '$.cancel.indices[]'
    index: number
    value: number
  }

  export interface MessageRejectIndicesFieldEvent {
    field: '$.reject.indices[]'
    index: number
    value: number
  }

  export interface MessageRejectReasonFieldEvent {
    field: '$.reject.reason'
    value: string
  }

  export interface MessagePexPeersIdFieldEvent {
    field: '$.pex.peers[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface MessagePexPeersAddrsFieldEvent {
    field: '$.pex.peers[].addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export interface MessageManifestPartOffsetFieldEvent {
    field: '$.manifestPart.offset'
    value: number
  }

  export interface MessageManifestPartDataFieldEvent {
    field: '$.manifestPart.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface MessageManifestPartTotalFieldEvent {
    field: '$.manifestPart.total'
    value: number
  }

  export function encode (obj: Partial<Message>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Message.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Message>): Message {
    return decodeMessage(buf, Message.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Message>): Generator<MessageHandshakeArtifactFieldEvent | MessageHandshakeBitfieldFieldEvent | MessageHandshakeWantManifestFieldEvent | MessageHandshakeManifestFieldEvent | MessageHandshakeSuperSeedingFieldEvent | MessageHandshakeSendManifestFieldEvent | MessageHandshakeRelaysManifestFieldEvent | MessageHandshakeManifestInPartsFieldEvent | MessageHaveIndicesFieldEvent | MessageRequestIndicesFieldEvent | MessageBlockIndexFieldEvent | MessageBlockDataFieldEvent | MessageCancelIndicesFieldEvent | MessageRejectIndicesFieldEvent | MessageRejectReasonFieldEvent | MessagePexPeersIdFieldEvent | MessagePexPeersAddrsFieldEvent | MessageManifestPartOffsetFieldEvent | MessageManifestPartDataFieldEvent | MessageManifestPartTotalFieldEvent> {
    return streamMessage(buf, Message.codec(), opts)
  }
}

export interface Handshake {
  artifact: Uint8Array<ArrayBuffer>
  bitfield: Uint8Array<ArrayBuffer>
  wantManifest: boolean
  manifest: Uint8Array<ArrayBuffer>
  superSeeding: boolean
  sendManifest: boolean
  relaysManifest: boolean
  manifestInParts: boolean
}

export namespace Handshake {
  let _codec: Codec<Handshake>

  export const codec = (): Codec<Handshake> => {
    if (_codec == null) {
      _codec = message<Handshake>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.artifact != null && obj.artifact.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.artifact)
        }

        if ((obj.bitfield != null && obj.bitfield.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.bitfield)
        }

        if ((obj.wantManifest != null && obj.wantManifest !== false)) {
          w.uint32(24)
          w.bool(obj.wantManifest)
        }

        if ((obj.manifest != null && obj.manifest.byteLength > 0)) {
          w.uint32(34)
          w.bytes(obj.manifest)
        }

        if ((obj.superSeeding != null && obj.superSeeding !== false)) {
          w.uint32(40)
          w.bool(obj.superSeeding)
        }

        if ((obj.sendManifest != null && obj.sendManifest !== false)) {
          w.uint32(48)
          w.bool(obj.sendManifest)
        }

        if ((obj.relaysManifest != null && obj.relaysManifest !== false)) {
          w.uint32(56)
          w.bool(obj.relaysManifest)
        }

        if ((obj.manifestInParts != null && obj.manifestInParts !== false)) {
          w.uint32(64)
          w.bool(obj.manifestInParts)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          artifact: uint8ArrayAlloc(0),
          bitfield: uint8ArrayAlloc(0),
          wantManifest: false,
          manifest: uint8ArrayAlloc(0),
          superSeeding: false,
          sendManifest: false,
          relaysManifest: false,
          manifestInParts: false
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.artifact = reader.bytes()
              break
            }
            case 2: {
              obj.bitfield = reader.bytes()
              break
            }
            case 3: {
              obj.wantManifest = reader.bool()
              break
            }
            case 4: {
              obj.manifest = reader.bytes()
              break
            }
            case 5: {
              obj.superSeeding = reader.bool()
              break
            }
            case 6: {
              obj.sendManifest = reader.bool()
              break
            }
            case 7: {
              obj.relaysManifest = reader.bool()
              break
            }
            case 8: {
              obj.manifestInParts = reader.bool()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.artifact`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.bitfield`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.wantManifest`,
                value: reader.bool()
              }
              break
            }
            case 4: {
              yield {
                field: `${prefix}.manifest`,
                value: reader.bytes()
              }
              break
            }
            case 5: {
              yield {
                field: `${prefix}.superSeeding`,
                value: reader.bool()
              }
              break
            }
            case 6: {
              yield {
                field: `${prefix}.sendManifest`,
                value: reader.bool()
              }
              break
            }
            case 7: {
              yield {
                field: `${prefix}.relaysManifest`,
                value: reader.bool()
              }
              break
            }
            case 8: {
              yield {
                field: `${prefix}.manifestInParts`,
                value: reader.bool()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HandshakeArtifactFieldEvent {
    field: '$.artifact'
    value: Uint8Array<ArrayBuffer>
  }

  export interface HandshakeBitfieldFieldEvent {
    field: '$.bitfield'
    value: Uint8Array<ArrayBuffer>
  }

  export interface HandshakeWantManifestFieldEvent {
    field: '$.wantManifest'
    value: boolean
  }

  export interface HandshakeManifestFieldEvent {
    field: '$.manifest'
    value: Uint8Array<ArrayBuffer>
  }

  export interface HandshakeSuperSeedingFieldEvent {
    field: '$.superSeeding'
    value: boolean
  }

  export interface HandshakeSendManifestFieldEvent {
    field: '$.sendManifest'
    value: boolean
  }

  export interface HandshakeRelaysManifestFieldEvent {
    field: '$.relaysManifest'
    value: boolean
  }

  export interface HandshakeManifestInPartsFieldEvent {
    field: '$.manifestInParts'
    value: boolean
  }

  export function encode (obj: Partial<Handshake>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Handshake.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Handshake>): Handshake {
    return decodeMessage(buf, Handshake.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Handshake>): Generator<HandshakeArtifactFieldEvent | HandshakeBitfieldFieldEvent | HandshakeWantManifestFieldEvent | HandshakeManifestFieldEvent | HandshakeSuperSeedingFieldEvent | HandshakeSendManifestFieldEvent | HandshakeRelaysManifestFieldEvent | HandshakeManifestInPartsFieldEvent> {
    return streamMessage(buf, Handshake.codec(), opts)
  }
}

export interface ManifestPart {
  offset: number
  data: Uint8Array<ArrayBuffer>
  total: number
}

export namespace ManifestPart {
  let _codec: Codec<ManifestPart>

  export const codec = (): Codec<ManifestPart> => {
    if (_codec == null) {
      _codec = message<ManifestPart>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.offset != null && obj.offset !== 0)) {
          w.uint32(8)
          w.uint32(obj.offset)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if ((obj.total != null && obj.total !== 0)) {
          w.uint32(24)
          w.uint32(obj.total)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          offset: 0,
          data: uint8ArrayAlloc(0),
          total: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.offset = reader.uint32()
              break
            }
            case 2: {
              obj.data = reader.bytes()
              break
            }
            case 3: {
              obj.total = reader.uint32()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.offset`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            case 3: {
              yield {
                field: `${prefix}.total`,
                value: reader.uint32()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface ManifestPartOffsetFieldEvent {
    field: '$.offset'
    value: number
  }

  export interface ManifestPartDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export interface ManifestPartTotalFieldEvent {
    field: '$.total'
    value: number
  }

  export function encode (obj: Partial<ManifestPart>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, ManifestPart.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ManifestPart>): ManifestPart {
    return decodeMessage(buf, ManifestPart.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<ManifestPart>): Generator<ManifestPartOffsetFieldEvent | ManifestPartDataFieldEvent | ManifestPartTotalFieldEvent> {
    return streamMessage(buf, ManifestPart.codec(), opts)
  }
}

export interface Have {
  indices: number[]
}

export namespace Have {
  let _codec: Codec<Have>

  export const codec = (): Codec<Have> => {
    if (_codec == null) {
      _codec = message<Have>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.indices != null && obj.indices.length > 0) {
          for (const value of obj.indices) {
            w.uint32(8)
            w.uint32(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          indices: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.indices != null && obj.indices.length === opts.limits.indices) {
                throw new MaxLengthError('Decode error - repeated field "indices" had too many elements')
              }

              obj.indices.push(reader.uint32())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          indices: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.indices != null && obj.indices === opts.limits.indices) {
                throw new MaxLengthError('Streaming decode error - repeated field "indices" had too many elements')
              }

              yield {
                field: `${prefix}.indices[]`,
                index: obj.indices,
                value: reader.uint32()
              }

              obj.indices++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface HaveIndicesFieldEvent {
    field: '$.indices[]'
    index: number
    value: number
  }

  export function encode (obj: Partial<Have>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Have.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Have>): Have {
    return decodeMessage(buf, Have.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Have>): Generator<HaveIndicesFieldEvent> {
    return streamMessage(buf, Have.codec(), opts)
  }
}

export interface Request {
  indices: number[]
}

export namespace Request {
  let _codec: Codec<Request>

  export const codec = (): Codec<Request> => {
    if (_codec == null) {
      _codec = message<Request>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.indices != null && obj.indices.length > 0) {
          for (const value of obj.indices) {
            w.uint32(8)
            w.uint32(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          indices: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.indices != null && obj.indices.length === opts.limits.indices) {
                throw new MaxLengthError('Decode error - repeated field "indices" had too many elements')
              }

              obj.indices.push(reader.uint32())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          indices: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.indices != null && obj.indices === opts.limits.indices) {
                throw new MaxLengthError('Streaming decode error - repeated field "indices" had too many elements')
              }

              yield {
                field: `${prefix}.indices[]`,
                index: obj.indices,
                value: reader.uint32()
              }

              obj.indices++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RequestIndicesFieldEvent {
    field: '$.indices[]'
    index: number
    value: number
  }

  export function encode (obj: Partial<Request>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Request.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Request>): Request {
    return decodeMessage(buf, Request.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Request>): Generator<RequestIndicesFieldEvent> {
    return streamMessage(buf, Request.codec(), opts)
  }
}

export interface Block {
  index: number
  data: Uint8Array<ArrayBuffer>
}

export namespace Block {
  let _codec: Codec<Block>

  export const codec = (): Codec<Block> => {
    if (_codec == null) {
      _codec = message<Block>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.index != null && obj.index !== 0)) {
          w.uint32(8)
          w.uint32(obj.index)
        }

        if ((obj.data != null && obj.data.byteLength > 0)) {
          w.uint32(18)
          w.bytes(obj.data)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          index: 0,
          data: uint8ArrayAlloc(0)
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.index = reader.uint32()
              break
            }
            case 2: {
              obj.data = reader.bytes()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.index`,
                value: reader.uint32()
              }
              break
            }
            case 2: {
              yield {
                field: `${prefix}.data`,
                value: reader.bytes()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface BlockIndexFieldEvent {
    field: '$.index'
    value: number
  }

  export interface BlockDataFieldEvent {
    field: '$.data'
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Block>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Block.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Block>): Block {
    return decodeMessage(buf, Block.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Block>): Generator<BlockIndexFieldEvent | BlockDataFieldEvent> {
    return streamMessage(buf, Block.codec(), opts)
  }
}

export interface Cancel {
  indices: number[]
}

export namespace Cancel {
  let _codec: Codec<Cancel>

  export const codec = (): Codec<Cancel> => {
    if (_codec == null) {
      _codec = message<Cancel>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.indices != null && obj.indices.length > 0) {
          for (const value of obj.indices) {
            w.uint32(8)
            w.uint32(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          indices: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.indices != null && obj.indices.length === opts.limits.indices) {
                throw new MaxLengthError('Decode error - repeated field "indices" had too many elements')
              }

              obj.indices.push(reader.uint32())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          indices: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.indices != null && obj.indices === opts.limits.indices) {
                throw new MaxLengthError('Streaming decode error - repeated field "indices" had too many elements')
              }

              yield {
                field: `${prefix}.indices[]`,
                index: obj.indices,
                value: reader.uint32()
              }

              obj.indices++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface CancelIndicesFieldEvent {
    field: '$.indices[]'
    index: number
    value: number
  }

  export function encode (obj: Partial<Cancel>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Cancel.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Cancel>): Cancel {
    return decodeMessage(buf, Cancel.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Cancel>): Generator<CancelIndicesFieldEvent> {
    return streamMessage(buf, Cancel.codec(), opts)
  }
}

export interface Reject {
  indices: number[]
  reason: string
}

export namespace Reject {
  let _codec: Codec<Reject>

  export const codec = (): Codec<Reject> => {
    if (_codec == null) {
      _codec = message<Reject>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.indices != null && obj.indices.length > 0) {
          for (const value of obj.indices) {
            w.uint32(8)
            w.uint32(value)
          }
        }

        if ((obj.reason != null && obj.reason !== '')) {
          w.uint32(18)
          w.string(obj.reason)
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          indices: [],
          reason: ''
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.indices != null && obj.indices.length === opts.limits.indices) {
                throw new MaxLengthError('Decode error - repeated field "indices" had too many elements')
              }

              obj.indices.push(reader.uint32())
              break
            }
            case 2: {
              obj.reason = reader.string()
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          indices: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.indices != null && obj.indices === opts.limits.indices) {
                throw new MaxLengthError('Streaming decode error - repeated field "indices" had too many elements')
              }

              yield {
                field: `${prefix}.indices[]`,
                index: obj.indices,
                value: reader.uint32()
              }

              obj.indices++

              break
            }
            case 2: {
              yield {
                field: `${prefix}.reason`,
                value: reader.string()
              }
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface RejectIndicesFieldEvent {
    field: '$.indices[]'
    index: number
    value: number
  }

  export interface RejectReasonFieldEvent {
    field: '$.reason'
    value: string
  }

  export function encode (obj: Partial<Reject>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Reject.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reject>): Reject {
    return decodeMessage(buf, Reject.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Reject>): Generator<RejectIndicesFieldEvent | RejectReasonFieldEvent> {
    return streamMessage(buf, Reject.codec(), opts)
  }
}

export interface Pex {
  peers: PexPeer[]
}

export namespace Pex {
  let _codec: Codec<Pex>

  export const codec = (): Codec<Pex> => {
    if (_codec == null) {
      _codec = message<Pex>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if (obj.peers != null && obj.peers.length > 0) {
          for (const value of obj.peers) {
            w.uint32(10)
            PexPeer.codec().encode(value, w)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          peers: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.peers != null && obj.peers.length === opts.limits.peers) {
                throw new MaxLengthError('Decode error - repeated field "peers" had too many elements')
              }

              obj.peers.push(PexPeer.codec().decode(reader, reader.uint32(), {
                limits: opts.limits?.peers$
              }))
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          peers: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              if (opts.limits?.peers != null && obj.peers === opts.limits.peers) {
                throw new MaxLengthError('Streaming decode error - repeated field "peers" had too many elements')
              }

              for (const evt of PexPeer.codec().stream(reader, reader.uint32(), `${prefix}.peers[]`, {
                limits: opts.limits?.peers$
              })) {
                yield {
                  ...evt,
                  index: obj.peers
                }
              }

              obj.peers++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PexPeersIdFieldEvent {
    field: '$.peers[].id'
    value: Uint8Array<ArrayBuffer>
    index: number
  }

  export interface PexPeersAddrsFieldEvent {
    field: '$.peers[].addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<Pex>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, Pex.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Pex>): Pex {
    return decodeMessage(buf, Pex.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<Pex>): Generator<PexPeersIdFieldEvent | PexPeersAddrsFieldEvent> {
    return streamMessage(buf, Pex.codec(), opts)
  }
}

export interface PexPeer {
  id: Uint8Array<ArrayBuffer>
  addrs: Uint8Array<ArrayBuffer>[]
}

export namespace PexPeer {
  let _codec: Codec<PexPeer>

  export const codec = (): Codec<PexPeer> => {
    if (_codec == null) {
      _codec = message<PexPeer>((obj, w, opts = {}) => {
        if (opts.lengthDelimited !== false) {
          w.fork()
        }

        if ((obj.id != null && obj.id.byteLength > 0)) {
          w.uint32(10)
          w.bytes(obj.id)
        }

        if (obj.addrs != null && obj.addrs.length > 0) {
          for (const value of obj.addrs) {
            w.uint32(18)
            w.bytes(value)
          }
        }

        if (opts.lengthDelimited !== false) {
          w.ldelim()
        }
      }, (reader, length, opts = {}) => {
        const obj: any = {
          id: uint8ArrayAlloc(0),
          addrs: []
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              obj.id = reader.bytes()
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs.length === opts.limits.addrs) {
                throw new MaxLengthError('Decode error - repeated field "addrs" had too many elements')
              }

              obj.addrs.push(reader.bytes())
              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }

        return obj
      }, function * (reader, length, prefix, opts = {}) {
        const obj = {
          addrs: 0
        }

        const end = length == null ? reader.len : reader.pos + length

        while (reader.pos < end) {
          const tag = reader.uint32()

          switch (tag >>> 3) {
            case 1: {
              yield {
                field: `${prefix}.id`,
                value: reader.bytes()
              }
              break
            }
            case 2: {
              if (opts.limits?.addrs != null && obj.addrs === opts.limits.addrs) {
                throw new MaxLengthError('Streaming decode error - repeated field "addrs" had too many elements')
              }

              yield {
                field: `${prefix}.addrs[]`,
                index: obj.addrs,
                value: reader.bytes()
              }

              obj.addrs++

              break
            }
            default: {
              reader.skipType(tag & 7)
              break
            }
          }
        }
      })
    }

    return _codec
  }

  export interface PexPeerIdFieldEvent {
    field: '$.id'
    value: Uint8Array<ArrayBuffer>
  }

  export interface PexPeerAddrsFieldEvent {
    field: '$.addrs[]'
    index: number
    value: Uint8Array<ArrayBuffer>
  }

  export function encode (obj: Partial<PexPeer>): Uint8Array<ArrayBuffer> {
    return encodeMessage(obj, PexPeer.codec())
  }

  export function decode (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PexPeer>): PexPeer {
    return decodeMessage(buf, PexPeer.codec(), opts)
  }

  export function stream (buf: Uint8Array | Uint8ArrayList, opts?: DecodeOptions<PexPeer>): Generator<PexPeerIdFieldEvent | PexPeerAddrsFieldEvent> {
    return streamMessage(buf, PexPeer.codec(), opts)
  }
}
