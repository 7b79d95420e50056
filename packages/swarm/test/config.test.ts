import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { resolveConfig, ShoalError, ShoalNode } from '../src/index.js'

function codeOf (fn: () => unknown): string | undefined {
  try {
    fn()
  } catch (err) {
    expect(err).toBeInstanceOf(ShoalError)
    expect((err as Error).message.split('\n')).toHaveLength(1)
    return (err as ShoalError).code
  }
  return undefined
}

describe('resolveConfig', () => {
  it('has sane defaults', () => {
    const c = resolveConfig({ dataDir: '/tmp/x' })
    expect(c.outputDir).toBe('/tmp/x/artifacts')
    expect(c.listen.map(String)).toEqual(['/ip4/0.0.0.0/tcp/4010'])
    expect(c.bootstrap).toEqual([])
    expect(c.swarm).toBe('default')
    expect(c.fetchAnnounced).toBe(true)
    expect(c.mdns).toBe(true)
    expect(c.localPeersDir).toContain('shoal-peers-default')
  })

  it('turns mDNS off by default when listening only on loopback', () => {
    expect(resolveConfig({ listen: ['/ip4/127.0.0.1/tcp/0'] }).mdns).toBe(false)
    expect(resolveConfig({ listen: ['/ip4/127.0.0.1/tcp/0'], mdns: true }).mdns).toBe(true)
  })

  it('rejects bad addresses with one clear line', () => {
    expect(codeOf(() => resolveConfig({ bootstrap: ['nonsense'] }))).toBe('ERR_BAD_ADDRESS')
    expect(codeOf(() => resolveConfig({ bootstrap: ['/ip4/127.0.0.1/tcp/4010'] }))).toBe('ERR_BAD_ADDRESS')
    expect(codeOf(() => resolveConfig({ listen: ['/ip4/127.0.0.1/udp/4010'] }))).toBe('ERR_BAD_ADDRESS')
    expect(codeOf(() => resolveConfig({ listen: ['/ip4/127.0.0.1/tcp/70000'] }))).toBe('ERR_BAD_ADDRESS')
  })

  it('accepts a full bootstrap address', () => {
    const addr = '/ip4/127.0.0.1/tcp/4010/p2p/12D3KooWFUdK9SgpBuNgRaufsjR4xqdWp8R1T35aLXvrdjz6rnuf'
    expect(resolveConfig({ bootstrap: [addr] }).bootstrap.map(String)).toEqual([addr])
  })

  it('rejects a bad swarm name and bad intervals', () => {
    expect(codeOf(() => resolveConfig({ swarm: 'a/b' }))).toBe('ERR_BAD_OPTION')
    expect(codeOf(() => resolveConfig({ announceIntervalMs: 0 }))).toBe('ERR_BAD_OPTION')
  })
})

describe('ShoalNode.create', () => {
  let dir: string
  beforeAll(async () => { dir = await mkdtemp(join(tmpdir(), 'shoal-swarm-')) })
  afterAll(async () => { await rm(dir, { recursive: true, force: true }) })

  it('refuses a data dir that is a regular file', async () => {
    const file = join(dir, 'not-a-dir')
    await writeFile(file, 'x')
    await expect(ShoalNode.create({ dataDir: file, listen: ['/ip4/127.0.0.1/tcp/0'] })).rejects.toMatchObject({ code: 'ERR_DATA_DIR' })
  })

  it('starts, reports its addresses and stops', async () => {
    const node = await ShoalNode.create({ dataDir: join(dir, 'n'), listen: ['/ip4/127.0.0.1/tcp/0'], localPeersDir: join(dir, 'peers') })
    await node.start()
    try {
      expect(node.multiaddrs.length).toBeGreaterThan(0)
      expect(node.multiaddrs[0]).toMatch(/^\/ip4\/127\.0\.0\.1\/tcp\/\d+\/p2p\/12D3Koo/)
    } finally {
      await node.stop()
    }
    // The identity survives a restart.
    const again = await ShoalNode.create({ dataDir: join(dir, 'n'), listen: ['/ip4/127.0.0.1/tcp/0'], localPeersDir: false })
    expect(again.peerId.equals(node.peerId)).toBe(true)
    await again.stop()
  }, 60_000)
})
