import { formatBytes, formatRate, parseBytes, parseRate } from '../src/index.js'

describe('parseRate', () => {
  it.each([
    ['40mbit', 5_000_000],
    ['40Mbit/s', 5_000_000],
    ['40mbps', 5_000_000],
    ['1gbit', 125_000_000],
    ['5MB', 5_000_000],
    ['5MB/s', 5_000_000],
    ['2MiB', 2 * 1024 * 1024],
    ['1.5kb', 1500],
    ['800kbit', 100_000],
    ['123456', 123456],
    ['0', 0],
    ['unlimited', 0]
  ])('%s is %d bytes per second', (text, expected) => {
    expect(parseRate(text)).toBe(expected)
  })

  it.each(['', 'fast', '-5mbit', '5 furlongs', 'mbit', 'constructor'])('rejects %j with a hint', (text) => {
    expect(() => parseRate(text)).toThrow(/use e\.g\. 40mbit/)
  })
})

describe('formatRate and formatBytes', () => {
  it('shows rates as links are sold', () => {
    expect(formatRate(5_000_000)).toBe('40.0 Mbit/s')
    expect(formatRate(125_000_000)).toBe('1.00 Gbit/s')
  })

  it('shows sizes in binary units', () => {
    expect(formatBytes(512)).toBe('512 B')
    expect(formatBytes(128 * 1024 * 1024)).toBe('128.0 MiB')
  })
})

describe('parseBytes', () => {
  it.each([
    ['500MB', 500_000_000],
    ['20GiB', 20 * 1024 ** 3],
    ['3MiB', 3 * 1024 ** 2],
    ['1.5g', 1.5 * 1024 ** 3],
    ['4096', 4096],
    [' 2 kb ', 2000]
  ])('%s is %d bytes', (text, expected) => {
    expect(parseBytes(text)).toBe(expected)
  })

  it.each(['', 'big', '-5MB', '5 furlongs', 'MB', 'constructor'])('rejects %j with a hint', (text) => {
    expect(() => parseBytes(text)).toThrow(/use e\.g\. 500MB/)
  })
})
