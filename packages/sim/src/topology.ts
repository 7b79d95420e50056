/**
 * Who is connected to whom. Like the real node, which dials peers for an artifact until it has
 * `maxPeers` sessions and accepts inbound ones up to `acceptPeers` (the exchange's
 * `acceptPeersPerArtifact`, `maxPeers + 2`), every node here (in random order) dials random
 * others until its degree reaches `maxPeers`, and a node already at `acceptPeers` refuses.
 * Degrees are therefore between the two bounds (when there are enough nodes). The publisher is
 * connected to `publisherPeers` random nodes first (an origin accepts `maxPeers`); that
 * session counts towards a node's degree.
 */

export interface TopologyInit {
  /** Downloading nodes; the publisher is node number `nodes` */
  nodes: number
  /** Connections each node dials up to (its sessions, publisher included) */
  maxPeers: number
  /** Sessions at which a node refuses further dials (default `maxPeers + 2`) */
  acceptPeers?: number
  /** Nodes connected to the publisher */
  publisherPeers: number
  /** One-way latency of a connection, drawn uniformly from [min, max] ms */
  latencyMs: readonly [number, number]
  random: () => number
}

/**
 * Directed connections come in pairs: `2k` is a → b and `2k + 1` is b → a, so the reverse of
 * connection `c` is `c ^ 1`. A connection's source uploads to its destination.
 */
export interface Topology {
  /** Nodes including the publisher */
  count: number
  /** Source node of each directed connection */
  src: Int32Array
  /** Destination node of each directed connection */
  dst: Int32Array
  /** One-way latency of each directed connection, ms (equal both ways) */
  latencyMs: Float64Array
  /** Outgoing connections of node `v`: `out[outStart[v] .. outStart[v + 1])` */
  outStart: Int32Array
  out: Int32Array
}

export function buildTopology (init: TopologyInit): Topology {
  const { nodes, random } = init
  const count = nodes + 1
  const publisher = nodes
  const [minLat, maxLat] = init.latencyMs
  const accept = init.acceptPeers ?? init.maxPeers + 2
  const adj: number[][] = Array.from({ length: count }, () => [])
  const linked = new Set<number>()
  const a: number[] = []
  const b: number[] = []
  const lat: number[] = []
  const connect = (x: number, y: number): void => {
    linked.add(x * count + y)
    linked.add(y * count + x)
    adj[x].push(y)
    adj[y].push(x)
    a.push(x)
    b.push(y)
    lat.push(minLat + (maxLat - minLat) * random())
  }

  // The publisher's peers: a random sample of the nodes.
  const order = Array.from({ length: nodes }, (_, i) => i)
  shuffle(order, random)
  const pubPeers = Math.min(init.publisherPeers, nodes)
  for (let k = 0; k < pubPeers; k++) connect(publisher, order[k])

  // Each node, in random order, dials random others until it has maxPeers sessions.
  shuffle(order, random)
  for (const v of order) {
    const pub = linked.has(v * count + publisher) ? 1 : 0
    const target = Math.min(init.maxPeers, nodes - 1 + pub)
    for (let tries = 0; adj[v].length < target && tries < 100 * init.maxPeers + 100; tries++) {
      const w = Math.floor(random() * nodes)
      if (w === v || adj[w].length >= accept || linked.has(v * count + w)) continue
      connect(v, w)
    }
  }

  const pairs = a.length
  const src = new Int32Array(2 * pairs)
  const dst = new Int32Array(2 * pairs)
  const latencyMs = new Float64Array(2 * pairs)
  const degree = new Int32Array(count)
  for (let k = 0; k < pairs; k++) {
    src[2 * k] = a[k]; dst[2 * k] = b[k]
    src[2 * k + 1] = b[k]; dst[2 * k + 1] = a[k]
    latencyMs[2 * k] = latencyMs[2 * k + 1] = lat[k]
    degree[a[k]]++
    degree[b[k]]++
  }
  const outStart = new Int32Array(count + 1)
  for (let v = 0; v < count; v++) outStart[v + 1] = outStart[v] + degree[v]
  const fillAt = outStart.slice(0, count)
  const out = new Int32Array(2 * pairs)
  for (let c = 0; c < 2 * pairs; c++) out[fillAt[src[c]]++] = c
  return { count, src, dst, latencyMs, outStart, out }
}

function shuffle<T> (items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1))
    const t = items[i]
    items[i] = items[j]
    items[j] = t
  }
}
