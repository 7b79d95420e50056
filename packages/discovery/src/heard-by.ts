/**
 * Which peers have heard of which artifact, as far as this node can tell: the peers it sent an
 * announcement to, the peers that were in the topic's mesh long enough to get one that passed
 * through, and holders whose beacons name the artifact. A node that re-announces (or relays an
 * announcement) for a peer that joins the topic asks this first: every re-announcement travels
 * to the whole swarm, and most peers that "join" are known peers on a new connection.
 */
export class HeardBy {
  private readonly byArtifact = new Map<string, Set<string>>()

  /**
   * @param maxArtifacts - artifacts remembered; the oldest is forgotten first (a forgotten one
   * only costs a re-announcement that was not needed)
   */
  constructor (private readonly maxArtifacts = 256) {}

  add (id: string, peers: Iterable<string>): void {
    let set = this.byArtifact.get(id)
    if (set == null) {
      if (this.byArtifact.size >= this.maxArtifacts) {
        const oldest = this.byArtifact.keys().next().value
        if (oldest != null) this.byArtifact.delete(oldest)
      }
      this.byArtifact.set(id, set = new Set())
    }
    for (const p of peers) set.add(p)
  }

  has (id: string, peer: string): boolean {
    return this.byArtifact.get(id)?.has(peer) === true
  }
}
