/**
 * Shaped links for the benchmark: one network namespace per process (publisher and each node),
 * each with a veth pair whose other end is a port of a bridge in a separate hub namespace, so the
 * root namespace is never touched (no interface, route or address is added there).
 *
 *   shoalb-<pid>-pub  veth0 10.77.0.10 ─(tbf: up)─ h0 ─(tbf: down)─┐
 *   shoalb-<pid>-n1   veth0 10.77.0.11 ─(tbf: up)─ h1 ─(tbf: down)─┼─ br0 in shoalb-<pid>-hub
 *   shoalb-<pid>-nN   veth0 …          ─(tbf: up)─ hN ─(tbf: down)─┘
 *
 * A tbf on the member-side veth's egress caps what that process uploads; a tbf on the hub-side
 * veth's egress caps what it downloads. The kernel here has no netem, so no delay is added.
 *
 * Every namespace is named `shoalb-<bench pid>-…` so teardown, and `--cleanup` after a crash,
 * only ever touch namespaces a bench made.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'

const execFileP = promisify(execFile)

export const NS_PREFIX = 'shoalb-'
const SUBNET = '10.77' // a /16 used only inside the bench's namespaces
const MEMBER_IF = 'veth0'
const BRIDGE = 'br0'

/** Runs a command; on failure throws one line naming the command and what it printed */
async function run (cmd, args) {
  try {
    const { stdout } = await execFileP(cmd, args, { maxBuffer: 64 * 1024 * 1024 })
    return stdout
  } catch (err) {
    const why = (err.stderr ?? '').toString().trim().split('\n')[0] || err.message
    throw new Error(`${cmd} ${args.join(' ')}: ${why}`)
  }
}

/** Runs async `fn` over `items`, at most `limit` at once (spawning 100 `ip`s at once helps nobody) */
async function eachLimited (items, limit, fn) {
  let next = 0
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) await fn(items[next++])
  }))
}

/**
 * Can this process make network namespaces? Root, `ip` and `tc` with tbf are needed; the probe
 * makes one namespace with a tbf'd veth and removes it. Resolves to undefined or the reason not.
 */
export async function netnsUnavailableReason () {
  if (process.getuid?.() !== 0) return 'not running as root'
  const probe = `${NS_PREFIX}${process.pid}-probe`
  try {
    await run('ip', ['netns', 'add', probe])
    try {
      await run('ip', ['-n', probe, 'link', 'add', 'p0', 'type', 'veth', 'peer', 'name', 'p1'])
      await run('tc', ['-n', probe, 'qdisc', 'add', 'dev', 'p0', 'root', 'tbf', 'rate', '1mbit', 'burst', '16kb', 'latency', '50ms'])
    } finally {
      await run('ip', ['netns', 'del', probe]).catch(() => {})
    }
    return undefined
  } catch (err) {
    return err.message
  }
}

/** The host's TCP congestion control and the ones namespaces may use (set by the host) */
export async function hostCongestionControl () {
  const read = async (name) => (await run('sysctl', ['-n', name]).catch(() => '')).trim()
  return {
    current: await read('net.ipv4.tcp_congestion_control'),
    available: await read('net.ipv4.tcp_available_congestion_control'),
    allowed: await read('net.ipv4.tcp_allowed_congestion_control')
  }
}

/**
 * The share of a full frame on these links that is TCP payload: 1514-byte Ethernet frames
 * (MTU 1500) carry 1448 bytes with TCP timestamps (12 bytes of options in every segment) and
 * 1460 without. A tbf cap counts whole frames, so T* ÷ this share is the links' own floor.
 */
export function tcpPayloadShare (timestamps) {
  return (1500 - 40 - (timestamps ? 12 : 0)) / 1514
}

/**
 * tbf parameters for a rate in bytes/s. The burst must hold at least one MTU frame and a timer
 * tick's worth of bytes; 4 ms of traffic, at least 16 KiB, keeps the cap tight (measured here
 * within 0.1 %). The queue holds 50 ms at the cap: enough for TCP to fill the link, short enough
 * not to build seconds of bufferbloat.
 */
export function tbfParams (bytesPerSec) {
  return {
    burstBytes: Math.max(16 * 1024, Math.ceil(bytesPerSec * 0.004)),
    latencyMs: 50
  }
}

export class Topology {
  /**
   * @param {object} o
   * @param {number} o.members  publisher + nodes; member 0 is the publisher
   * @param {number} o.upBytes  upload cap per member, bytes/s
   * @param {number} o.downBytes download cap per member, bytes/s
   */
  constructor ({ members, upBytes, downBytes, pid = process.pid }) {
    if (members > 2500) throw new Error('at most 2500 namespaces fit the address plan')
    this.prefix = `${NS_PREFIX}${pid}-`
    this.hub = `${this.prefix}hub`
    this.upBytes = upBytes
    this.downBytes = downBytes
    this.members = Array.from({ length: members }, (_, k) => ({
      index: k,
      ns: `${this.prefix}${k === 0 ? 'pub' : `n${k}`}`,
      // 10.77.0.10 for the publisher, then .11, .12 …; wraps into the next /24 every 250
      addr: `${SUBNET}.${Math.floor(k / 250)}.${(k % 250) + 10}`,
      hubIf: `h${k}`,
      ifName: MEMBER_IF
    }))
    this.created = [] // namespaces that exist and must be deleted, in creation order
  }

  /** Builds the hub, every member namespace and its shaped veth; throws (after undoing) on failure */
  async setup () {
    const tbfUp = tbfParams(this.upBytes)
    const tbfDown = tbfParams(this.downBytes)
    try {
      this.neighLimits = await raiseNeighLimits(this.members.length)
      await this.addNs(this.hub)
      await run('ip', ['-n', this.hub, 'link', 'add', BRIDGE, 'type', 'bridge'])
      // no IPv6 link-local addresses: no router solicitations or MLD reports, only the IPv4 we ask for
      await run('ip', ['-n', this.hub, 'link', 'set', BRIDGE, 'addrgenmode', 'none'])
      await run('ip', ['-n', this.hub, 'link', 'set', BRIDGE, 'up'])
      await eachLimited(this.members, 4, async (m) => {
        await this.addNs(m.ns)
        // the veth is born in the hub with its peer directly in the member namespace
        await run('ip', ['-n', this.hub, 'link', 'add', m.hubIf, 'type', 'veth', 'peer', 'name', m.ifName, 'netns', m.ns])
        await run('ip', ['-n', this.hub, 'link', 'set', m.hubIf, 'addrgenmode', 'none'])
        await run('ip', ['-n', m.ns, 'link', 'set', m.ifName, 'addrgenmode', 'none'])
        await run('ip', ['-n', this.hub, 'link', 'set', m.hubIf, 'master', BRIDGE, 'up'])
        await run('ip', ['-n', m.ns, 'addr', 'add', `${m.addr}/16`, 'dev', m.ifName])
        await run('ip', ['-n', m.ns, 'link', 'set', 'lo', 'up'])
        await run('ip', ['-n', m.ns, 'link', 'set', m.ifName, 'up'])
        // upload: what leaves the member; download: what the bridge sends it
        await run('tc', ['-n', m.ns, 'qdisc', 'add', 'dev', m.ifName, 'root', 'tbf',
          'rate', `${this.upBytes * 8}bit`, 'burst', String(tbfUp.burstBytes), 'latency', `${tbfUp.latencyMs}ms`])
        await run('tc', ['-n', this.hub, 'qdisc', 'add', 'dev', m.hubIf, 'root', 'tbf',
          'rate', `${this.downBytes * 8}bit`, 'burst', String(tbfDown.burstBytes), 'latency', `${tbfDown.latencyMs}ms`])
      })
    } catch (err) {
      await this.teardown()
      throw new Error(`setting up network namespaces failed: ${err.message}`)
    }
    return { tbfUp, tbfDown, neighLimits: this.neighLimits }
  }

  async addNs (name) {
    await run('ip', ['netns', 'add', name])
    this.created.push(name)
  }

  /** The command prefix that runs a program inside member k's namespace */
  execPrefix (k) {
    return ['ip', 'netns', 'exec', this.members[k].ns]
  }

  /** Runs `program args` inside member k's namespace; resolves to its stdout */
  async runIn (k, program, args) {
    const [cmd, ...prefix] = this.execPrefix(k)
    return await run(cmd, [...prefix, program, ...args])
  }

  /**
   * Byte counters of every member's link, from the tbfs that shape it: `up` is what the member's
   * upload tbf sent, `down` what its download tbf (in the hub) delivered to it. Wire bytes: whole
   * Ethernet frames with every header and protocol message, not only file data. Not the veths'
   * own counters: a GSO burst crosses a veth as one packet, counted with one set of headers
   * (485.6 KB/s there against the 500.0 its tbf sent, one bulk TCP flow at 4 Mbit/s).
   */
  async counters () {
    const down = await this.downlinkBytes()
    const up = await this.eachMember(async (m) => tbfBytes(await run('tc', ['-n', m.ns, '-s', '-j', 'qdisc', 'show', 'dev', m.ifName])))
    return this.members.map((m, k) => ({ up: up[k], down: down.get(m.hubIf) ?? 0 }))
  }

  /** Bytes each member's download tbf has delivered, by hub-side interface, in one `tc` call */
  async downlinkBytes () {
    const qdiscs = JSON.parse(await run('tc', ['-n', this.hub, '-s', '-j', 'qdisc', 'show']))
    return new Map(qdiscs.filter(q => q.kind === 'tbf').map(q => [q.dev, q.bytes]))
  }

  /**
   * TCP counters of every member's namespace (each has its own): segments sent, segments
   * retransmitted and retransmission timeouts. A segment dropped at a receiver's download tbf
   * had already used its sender's uplink, and its retransmission uses it again; one dropped by
   * the sender's own upload tbf never left, and TCP sends it again without counting it here.
   */
  async tcpCounters () {
    const read = async (k) => {
      const out = await this.runIn(k, 'nstat', ['-a', '-s', '-z', ...Object.values(TCP_COUNTERS)])
      const value = (name) => Number(out.match(new RegExp(`^${name}\\s+(\\d+)`, 'm'))?.[1] ?? NaN)
      return mapCounters(key => value(TCP_COUNTERS[key]))
    }
    return await this.eachMember((_, k) => read(k))
  }

  /** `fn(member, k)` for every member, four at a time; resolves to the results in member order */
  async eachMember (fn) {
    const results = new Array(this.members.length)
    await eachLimited(this.members, 4, async (m) => { results[m.index] = await fn(m, m.index) })
    return results
  }

  /** TCP congestion control a member namespace uses; tries `preferred` if it is not allowed */
  async congestionControl (k, preferred) {
    const read = async () => (await this.runIn(k, 'sysctl', ['-n', 'net.ipv4.tcp_congestion_control'])).trim()
    let cc = await read().catch(() => 'unknown')
    if (preferred != null && cc !== preferred) {
      await this.runIn(k, 'sysctl', ['-q', '-w', `net.ipv4.tcp_congestion_control=${preferred}`]).catch(() => {})
      cc = await read().catch(() => cc)
    }
    return cc
  }

  /** Whether a member namespace's TCP sends timestamps; tries to set it first if `wanted` is given */
  async tcpTimestamps (k, wanted) {
    if (wanted != null) await this.runIn(k, 'sysctl', ['-q', '-w', `net.ipv4.tcp_timestamps=${wanted ? 1 : 0}`]).catch(() => {})
    return (await this.runIn(k, 'sysctl', ['-n', 'net.ipv4.tcp_timestamps'])).trim() !== '0'
  }

  /** Deletes every namespace this topology made (members first, the hub last); never throws */
  async teardown () {
    const names = [...this.created].reverse()
    this.created = []
    const failed = []
    await eachLimited(names, 4, async (ns) => {
      await killPidsIn(ns)
      await run('ip', ['netns', 'del', ns]).catch(() => { failed.push(ns) })
    })
    await restoreNeighLimits(this.neighLimits)
    this.neighLimits = undefined
    return failed
  }

  /** Last resort from a synchronous 'exit' handler: delete what is left, blocking */
  teardownSync () {
    for (const ns of [...this.created].reverse()) spawnSync('ip', ['netns', 'del', ns], { stdio: 'ignore' })
    this.created = []
    for (const [key, value] of Object.entries(this.neighLimits?.before ?? {})) spawnSync('sysctl', ['-qw', `${key}=${value}`], { stdio: 'ignore' })
    this.neighLimits = undefined
  }
}

/** The bytes a tbf has sent, from `tc -s -j qdisc show dev <if>` output */
function tbfBytes (json) {
  return JSON.parse(json).find(q => q.kind === 'tbf')?.bytes ?? 0
}

/**
 * What {@link Topology.tcpCounters} counted between two readings, for the publisher (member 0)
 * and summed over the nodes, with the share of segments sent that were retransmissions.
 * Undefined when either reading is missing (nstat failed, or app mode).
 */
export function tcpDelta (before, after) {
  if (before == null || after == null) return undefined
  const members = after.map((a, k) => mapCounters(key => a[key] - before[k][key]))
  const nodes = mapCounters(key => members.slice(1).reduce((sum, m) => sum + m[key], 0))
  const withShare = (c) => ({ ...c, retransShare: c.outSegs > 0 ? c.retransSegs / c.outSegs : undefined })
  const result = { publisher: withShare(members[0]), nodes: withShare(nodes) }
  return Object.values(result).every(c => Number.isFinite(c.outSegs) && Number.isFinite(c.retransSegs)) ? result : undefined
}

/** The nstat counters {@link Topology.tcpCounters} reads, by the name the bench reports them under */
const TCP_COUNTERS = { outSegs: 'TcpOutSegs', retransSegs: 'TcpRetransSegs', timeouts: 'TcpExtTCPTimeouts' }

/** An object with one value per {@link TCP_COUNTERS} key */
function mapCounters (fn) {
  return Object.fromEntries(Object.keys(TCP_COUNTERS).map(key => [key, fn(key)]))
}

const NEIGH_KEYS = ['gc_thresh1', 'gc_thresh2', 'gc_thresh3'].map(k => `net.ipv4.neigh.default.${k}`)

/**
 * The kernel's ARP table is one table for all network namespaces, and its limits (1024
 * entries by default) are the host's. Every member resolves every other member, so above ~30
 * members the table overflowed ("neighbor table overflow!" in dmesg): connects sat in SYN-SENT
 * with nothing sent until garbage collection freed entries, and a 48-node swarm lost 15 s
 * before the publisher reached anyone. Raise the limits for the run (restored at teardown)
 * only when they are too low; returns what to restore, or undefined when nothing changed.
 */
async function raiseNeighLimits (members) {
  const need = members * (members + 1) + 256
  const before = {}
  for (const key of NEIGH_KEYS) before[key] = Number((await run('sysctl', ['-n', key])).trim())
  if (before[NEIGH_KEYS[2]] >= 2 * need) return undefined
  // Below thresh1 entries are never collected; at thresh3 new ones are refused.
  const after = Object.fromEntries(NEIGH_KEYS.map((k, i) => [k, Math.max(before[k], need * 2 ** i)]))
  for (const [key, value] of Object.entries(after)) await run('sysctl', ['-qw', `${key}=${value}`])
  return { before, after }
}

async function restoreNeighLimits (limits) {
  for (const [key, value] of Object.entries(limits?.before ?? {})) {
    await run('sysctl', ['-qw', `${key}=${value}`]).catch(() => {})
  }
}

/** SIGKILLs processes still inside a namespace (ours: nothing else runs in a bench namespace) */
async function killPidsIn (ns) {
  const out = await run('ip', ['netns', 'pids', ns]).catch(() => '')
  for (const pid of out.split(/\s+/).filter(Boolean).map(Number)) {
    if (pid !== process.pid) {
      try { process.kill(pid, 'SIGKILL') } catch {}
    }
  }
}

function benchAlive (pid) {
  try {
    process.kill(pid, 0)
  } catch (err) {
    if (err.code !== 'EPERM') return false
  }
  // a live pid may have been reused by something else: only a running bench counts
  const cmd = spawnSync('cat', [`/proc/${pid}/cmdline`], { encoding: 'utf8' }).stdout ?? ''
  return cmd.includes('bench')
}

/**
 * `--cleanup`: removes namespaces left by benches that are no longer running (a SIGKILL or a
 * crash skips the normal teardown), killing any process still inside them. Namespaces of a bench
 * that is still running are left alone. Returns the names removed and those kept.
 */
export async function cleanupLeftovers () {
  const out = await run('ip', ['netns', 'list'])
  const names = out.split('\n').map(l => l.trim().split(/\s+/)[0]).filter(n => n?.startsWith(NS_PREFIX))
  const removed = []
  const kept = []
  // hubs last, so the bridge outlives its ports until they are gone
  names.sort((a, b) => Number(a.endsWith('-hub')) - Number(b.endsWith('-hub')))
  for (const ns of names) {
    const pid = Number(/^shoalb-(\d+)-/.exec(ns)?.[1])
    if (Number.isInteger(pid) && pid !== process.pid && benchAlive(pid)) {
      kept.push(ns)
      continue
    }
    await killPidsIn(ns)
    await run('ip', ['netns', 'del', ns])
    removed.push(ns)
  }
  return { removed, kept }
}
