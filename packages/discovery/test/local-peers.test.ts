import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { peerIdFromString } from '@libp2p/peer-id'
import { multiaddr } from '@multiformats/multiaddr'
import { localPeers } from '../src/index.js'
import type { PeerDiscovery, PeerInfo, Startable } from '@libp2p/interface'

const self = peerIdFromString('12D3KooWBXmsnukwAZTqLecrm97phmqT6vTwjt1EB5WEB6gqj5Jh')
const other = '12D3KooWFn8sCPnZPhLXFTJ1mKiitK4MxZo3zQ38Jf1eEDvygAVH'
const third = '12D3KooWSHBwgQL6NgCs6JYJ46BkforRGSHo1SxMMeD1NeGnkRqr'

const silent = Object.assign(() => {}, { enabled: false, error: () => {}, trace: () => {} })
const logger = { forComponent: () => silent } as any

async function waitFor (check: () => Promise<boolean> | boolean, ms = 10_000): Promise<void> {
  const until = Date.now() + ms
  while (!(await check())) {
    if (Date.now() > until) throw new Error('timed out')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
}

describe('local peers (rendezvous directory)', () => {
  let dir: string
  let service: PeerDiscovery & Startable
  const found: PeerInfo[] = []

  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'shoal-local-peers-'))
    found.length = 0
    service = localPeers({ dir, intervalMs: 20, livenessMs: 100 })({
      peerId: self,
      logger,
      addressManager: { getAddresses: () => [multiaddr('/ip4/127.0.0.1/tcp/4001')] }
    }) as PeerDiscovery & Startable
    service.addEventListener('peer', e => { found.push(e.detail) })
  })

  afterEach(async () => {
    await service.stop()
    await rm(dir, { recursive: true, force: true })
  })

  it('finds a peer whose entry appears after it started, once', async () => {
    await service.start()
    await service.afterStart?.()
    expect(await readdir(dir)).toEqual([`${self.toString()}.json`])
    await writeFile(join(dir, `${other}.json`), JSON.stringify({ id: other, pid: process.pid, addrs: ['/ip4/127.0.0.1/tcp/4002'] }))
    await waitFor(() => found.length > 0)
    expect(found[0].id.toString()).toBe(other)
    expect(found[0].multiaddrs.map(a => a.toString())).toEqual(['/ip4/127.0.0.1/tcp/4002'])
    await new Promise(resolve => setTimeout(resolve, 300))
    expect(found).toHaveLength(1)
  })

  it('removes the entry of a process that is gone, though the directory did not change', async () => {
    const child = spawn(process.execPath, ['-e', 'setTimeout(() => {}, 60_000)'], { stdio: 'ignore' })
    try {
      await writeFile(join(dir, `${other}.json`), JSON.stringify({ id: other, pid: child.pid, addrs: [] }))
      await writeFile(join(dir, `${third}.json`), JSON.stringify({ id: third, pid: process.pid, addrs: [] }))
      await service.start()
      await service.afterStart?.()
      expect(found.map(p => p.id.toString()).sort()).toEqual([other, third].sort())
    } finally {
      child.kill('SIGKILL')
    }
    await once(child, 'exit')
    // well before the directory's periodic re-read would have found it
    await waitFor(async () => !(await readdir(dir)).includes(`${other}.json`), 3_000)
    expect((await readdir(dir)).sort()).toEqual([`${self.toString()}.json`, `${third}.json`].sort())
  })
})
