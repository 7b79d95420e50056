/** Small builders shared by the sans-IO tests */
import { Bitfield } from '@shoal/content'

export function bits (size: number, set: number[]): Bitfield {
  const b = new Bitfield(size)
  for (const i of set) b.set(i)
  return b
}

export function full (size: number): Bitfield {
  return bits(size, [...Array(size).keys()])
}

/** Deterministic PRNG so tests are repeatable */
export function seeded (seed: number): () => number {
  return () => {
    seed = (seed * 1664525 + 1013904223) % 4294967296
    return seed / 4294967296
  }
}
