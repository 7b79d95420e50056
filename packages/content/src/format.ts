/** Human-readable sizes for logs and progress lines (binary units, as `ls -h` prints them) */
export function formatBytes (n: number): string {
  if (n < 1024) return `${n} B`
  const units = ['KiB', 'MiB', 'GiB', 'TiB']
  let v = n / 1024
  let u = 0
  while (v >= 1024 && u < units.length - 1) { v /= 1024; u++ }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`
}

const RATE_UNITS: Record<string, number> = {
  '': 1,
  b: 1,
  kb: 1e3,
  mb: 1e6,
  gb: 1e9,
  kib: 1024,
  mib: 1024 ** 2,
  gib: 1024 ** 3,
  bit: 1 / 8,
  kbit: 1e3 / 8,
  mbit: 1e6 / 8,
  gbit: 1e9 / 8,
  bps: 1 / 8,
  kbps: 1e3 / 8,
  mbps: 1e6 / 8,
  gbps: 1e9 / 8
}

/**
 * Parse a link rate as people write it (`40mbit`, `5MB/s`, `2MiB`, `1gbit`, or a plain number of
 * bytes per second) into bytes per second. `0`, `none` and `unlimited` mean no limit (returns 0).
 * Bit units are decimal, as network links are sold; byte units follow SI (`MB`) or IEC (`MiB`).
 *
 * @throws RangeError with a message saying what is accepted
 */
export function parseRate (text: string): number {
  const s = text.trim().toLowerCase().replace(/\/s$/, '')
  if (s === 'none' || s === 'unlimited') return 0
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(s)
  const unit = m?.[2]
  if (m == null || unit == null || !Object.hasOwn(RATE_UNITS, unit)) {
    throw new RangeError(`"${text}" is not a rate; use e.g. 40mbit, 5MB, 2MiB (per second) or a number of bytes per second`)
  }
  return Math.round(Number(m[1]) * RATE_UNITS[unit])
}

/** A rate in bytes per second, shown as network links are (`40.0 Mbit/s`) */
export function formatRate (bytesPerSecond: number): string {
  const bits = bytesPerSecond * 8
  if (bits >= 1e9) return `${(bits / 1e9).toFixed(2)} Gbit/s`
  if (bits >= 1e6) return `${(bits / 1e6).toFixed(1)} Mbit/s`
  return `${(bits / 1e3).toFixed(1)} kbit/s`
}

const SIZE_UNITS: Record<string, number> = {
  '': 1, b: 1, kb: 1e3, mb: 1e6, gb: 1e9, tb: 1e12, kib: 1024, mib: 1024 ** 2, gib: 1024 ** 3, tib: 1024 ** 4, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4
}

/**
 * Parse a size as people write it (`500MB`, `20GiB`, `1.5g`, or a plain number of bytes) into
 * bytes. SI units (`GB`) are decimal, IEC units (`GiB`) and bare letters (`G`, as `df -h`) binary.
 *
 * @throws RangeError with a message saying what is accepted
 */
export function parseBytes (text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([a-z]*)$/.exec(text.trim().toLowerCase())
  const unit = m?.[2]
  if (m == null || unit == null || !Object.hasOwn(SIZE_UNITS, unit)) {
    throw new RangeError(`"${text}" is not a size; use e.g. 500MB, 20GiB or a number of bytes`)
  }
  return Math.round(Number(m[1]) * SIZE_UNITS[unit])
}
