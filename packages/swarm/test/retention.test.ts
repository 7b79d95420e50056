import { chooseEvictions, type RetentionItem } from '../src/retention.js'

function item (id: string, name: string, createdAt: number, size = 100, extra: Partial<RetentionItem> = {}): RetentionItem {
  return { id, name, size, createdAt, complete: true, pinned: false, ...extra }
}

const ids = (items: Array<{ id: string }>): string[] => items.map(i => i.id).sort()

describe('chooseEvictions', () => {
  it('keeps everything without a policy', () => {
    expect(chooseEvictions([item('a', 'm', 1), item('b', 'm', 2)], {})).toEqual([])
  })

  it('keeps the newest K versions of each name, by manifest creation time', () => {
    const items = [item('v1', 'model.bin', 1), item('v3', 'model.bin', 3), item('v2', 'model.bin', 2), item('c1', 'cam.mp4', 1)]
    const out = chooseEvictions(items, { keepPerName: 2 })
    expect(ids(out)).toEqual(['v1'])
    expect(out[0].reason).toMatch(/newest 2 version/)
    expect(ids(chooseEvictions(items, { keepPerName: 1 }))).toEqual(['v1', 'v2'])
  })

  it('evicts the oldest complete artifacts until the store fits its byte budget', () => {
    const items = [item('a', 'a', 1), item('b', 'b', 2), item('c', 'c', 3), item('d', 'd', 4)]
    expect(ids(chooseEvictions(items, { maxBytes: 250 }))).toEqual(['a', 'b'])
    expect(ids(chooseEvictions(items, { maxBytes: 400 }))).toEqual([])
  })

  it('never evicts a partial download, a pinned artifact, or counts an evicted one twice', () => {
    const items = [
      item('old-partial', 'x', 1, 100, { complete: false }),
      item('old-published', 'y', 2, 100, { pinned: true }),
      item('old', 'z', 3),
      item('new', 'z', 4)
    ]
    // keep 1 of z evicts "old"; the budget is then met (300 <= 300) without touching the rest
    expect(ids(chooseEvictions(items, { keepPerName: 1, maxBytes: 300 }))).toEqual(['old'])
    // a budget that cannot be met by evictable items evicts what it may and stops
    expect(ids(chooseEvictions(items, { maxBytes: 50 }))).toEqual(['new', 'old'])
  })
})
