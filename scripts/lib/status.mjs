/**
 * Reading what a running Shoal node reports about itself, shared by the demo, the bench and the
 * footprint script: its status.json, one artifact's entry in it, the transfer figures derived
 * from that entry, and the timestamp of its `complete:` log line. Plus sha256 of a copy on disk.
 */
import { createHash } from 'node:crypto'
import { open, readFile } from 'node:fs/promises'

/** sha256 of a file, read through one reused 8 MiB buffer (never holds the file) */
export async function sha256OfFile (path) {
  const hash = createHash('sha256')
  const buf = Buffer.allocUnsafe(8 * 1024 * 1024)
  const fh = await open(path, 'r')
  try {
    for (let pos = 0; ;) {
      const { bytesRead } = await fh.read(buf, 0, buf.byteLength, pos)
      if (bytesRead === 0) break
      hash.update(buf.subarray(0, bytesRead))
      pos += bytesRead
    }
  } finally {
    await fh.close()
  }
  return hash.digest('hex')
}

/** Parsed JSON, or undefined while the file does not exist yet (or is caught mid-rename) */
export async function readJson (path) {
  try {
    return JSON.parse(await readFile(path, 'utf8'))
  } catch {
    return undefined
  }
}

/** The entry of artifact `fileName` in the node's last status (`node.status`) */
export function artifactOf (node, fileName) {
  return (node.status?.artifacts ?? []).find(a => a.name === fileName)
}

/** Per-node transfer figures from its status; `publisher` is the publisher's peer id */
export function transferOf (node, fileName, publisher) {
  const a = artifactOf(node, fileName)
  if (a == null) return undefined
  const fromPublisher = publisher != null ? a.bytesReceivedFrom?.[publisher] ?? 0 : 0
  return {
    fraction: a.chunks > 0 ? a.have / a.chunks : 0,
    complete: a.complete === true,
    peers: a.peers ?? 0,
    received: a.bytesReceived ?? 0,
    fromPublisher,
    fromNodes: (a.bytesReceived ?? 0) - fromPublisher,
    sent: a.bytesSent ?? 0,
    duplicate: a.duplicateBytes ?? 0,
    invalid: a.invalidBlocks ?? 0,
    manifestsSent: a.manifestsSent ?? 0,
    startedAt: a.startedAt,
    completedAt: a.completedAt,
    path: a.path
  }
}

/**
 * When the node logged `complete: <fileName>` (epoch ms), or undefined. The log line is written
 * the moment the copy is in place; status.json only every 500 ms.
 */
export async function completeLineAt (logPath, fileName) {
  const log = await readFile(logPath, 'utf8').catch(() => '')
  const line = log.split('\n').find(l => l.includes(` complete: ${fileName} `))
  const at = Date.parse(line?.split(' ')[0] ?? '')
  return Number.isFinite(at) ? at : undefined
}
