import { fastMsgId } from '../src/fast-msg-id.js'

const bytes = (...b: number[]): Uint8Array => Uint8Array.from(b)
const base = { topic: 't', from: bytes(1, 2), seqno: bytes(3), data: bytes(4, 5, 6), signature: bytes(7) }

describe('fastMsgId', () => {
  it('gives copies of one message the same id', () => {
    expect(fastMsgId({ ...base, data: bytes(4, 5, 6) })).toBe(fastMsgId(base))
  })

  it('tells messages apart by any field', () => {
    const ids = new Set([
      fastMsgId(base),
      fastMsgId({ ...base, topic: 'u' }),
      fastMsgId({ ...base, from: bytes(1, 3) }),
      fastMsgId({ ...base, seqno: bytes(4) }),
      fastMsgId({ ...base, data: bytes(4, 5) }),
      fastMsgId({ ...base, signature: bytes(8) }),
      fastMsgId({ ...base, signature: undefined })
    ])
    expect(ids.size).toBe(7)
  })

  it('does not confuse where one field ends and the next begins', () => {
    expect(fastMsgId({ topic: 't', from: bytes(1, 2), seqno: bytes(3) }))
      .not.toBe(fastMsgId({ topic: 't', from: bytes(1), seqno: bytes(2, 3) }))
  })
})
