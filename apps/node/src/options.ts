/**
 * Flags, environment variables and an optional JSON config file, merged in that order of
 * precedence (flag > env > file > default).
 */
import { readFile } from 'node:fs/promises'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { parseBytes, parseRate } from '@shoal/content'
import type { ShoalNodeInit } from '@shoal/swarm'

export const USAGE = `Usage: shoal-node [options]

Runs a Shoal node: fetches every artifact announced in its swarm into the output dir
and keeps serving it to other nodes.

Options (environment variable in brackets):
  --data-dir <dir>      identity, database, partial downloads [SHOAL_DATA_DIR] (default ~/.shoal)
  --output-dir <dir>    where complete artifacts are written [SHOAL_OUTPUT_DIR] (default <data-dir>/artifacts)
  --listen <addr>       multiaddr to listen on, repeatable [SHOAL_LISTEN, comma-separated]
                        (default /ip4/0.0.0.0/tcp/4010)
  --bootstrap <addr>    peer to join through, /ip4/.../tcp/.../p2p/<id>, repeatable [SHOAL_BOOTSTRAP]
  --swarm <name>        swarm name [SHOAL_SWARM] (default "default")
  --peers-dir <dir>     same-machine rendezvous directory [SHOAL_PEERS_DIR] (default <tmp>/shoal-peers-<swarm>)
  --no-mdns             do not look for LAN peers with mDNS
  --max-peers <n>       peers per artifact [SHOAL_MAX_PEERS] (default 16)
  --max-upload <rate>   cap on upload, e.g. 40mbit, 5MB, 2MiB per second [SHOAL_MAX_UPLOAD] (default: none)
  --max-download <rate> cap on download [SHOAL_MAX_DOWNLOAD] (default: none)
  --keep <n>            keep the newest n versions of each artifact name, evict older ones
                        [SHOAL_KEEP] (default: keep all)
  --max-store <size>    evict the oldest artifacts to keep the store under this size, e.g. 50GiB
                        [SHOAL_MAX_STORE] (default: no limit)
  --status-file <file>  JSON status written here [SHOAL_STATUS_FILE] (default <data-dir>/status.json)
  --config <file>       JSON file with any of: dataDir, outputDir, listen, bootstrap, swarm, mdns,
                        maxPeers, maxUpload, maxDownload, keep, maxStore
  -h, --help            show this help
`

export interface NodeOptions {
  help: boolean
  init: ShoalNodeInit
  statusFile: string
}

export class UsageError extends Error {
  readonly code = 'ERR_USAGE'
}

export async function readOptions (argv: string[], env: NodeJS.ProcessEnv): Promise<NodeOptions> {
  let values
  try {
    ({ values } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: false,
      options: {
        'data-dir': { type: 'string' },
        'output-dir': { type: 'string' },
        listen: { type: 'string', multiple: true },
        bootstrap: { type: 'string', multiple: true },
        swarm: { type: 'string' },
        'peers-dir': { type: 'string' },
        'no-mdns': { type: 'boolean' },
        'max-peers': { type: 'string' },
        'max-upload': { type: 'string' },
        'max-download': { type: 'string' },
        'status-file': { type: 'string' },
        keep: { type: 'string' },
        'max-store': { type: 'string' },
        config: { type: 'string' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err: any) {
    throw new UsageError(`${err.message.split('\n')[0].replace(/\. .*$/, '')} — see shoal-node --help`)
  }
  const file = values.config != null ? await readConfigFile(values.config) : {}
  const list = (s?: string): string[] | undefined => s?.split(',').map(x => x.trim()).filter(x => x !== '')
  const maxPeersRaw = values['max-peers'] ?? env.SHOAL_MAX_PEERS ?? file.maxPeers
  const maxPeers = maxPeersRaw == null ? undefined : Number(maxPeersRaw)
  if (maxPeers != null && (!Number.isInteger(maxPeers) || maxPeers < 1)) {
    throw new UsageError(`--max-peers must be a positive integer, got "${String(maxPeersRaw)}"`)
  }
  const keepRaw = values.keep ?? env.SHOAL_KEEP ?? file.keep
  const keep = keepRaw == null ? undefined : Number(keepRaw)
  if (keep != null && (!Number.isInteger(keep) || keep < 1)) {
    throw new UsageError(`--keep must be a positive integer (versions per name), got "${String(keepRaw)}"`)
  }
  const maxStoreRaw = values['max-store'] ?? env.SHOAL_MAX_STORE ?? file.maxStore
  let maxStore: number | undefined
  if (maxStoreRaw != null) {
    try {
      maxStore = parseBytes(String(maxStoreRaw))
    } catch (err: any) {
      throw new UsageError(`--max-store: ${err.message}`)
    }
    if (maxStore <= 0) throw new UsageError(`--max-store must be more than 0 bytes, got "${String(maxStoreRaw)}"`)
  }
  const dataDir = values['data-dir'] ?? env.SHOAL_DATA_DIR ?? file.dataDir
  const init: ShoalNodeInit = {
    dataDir,
    outputDir: values['output-dir'] ?? env.SHOAL_OUTPUT_DIR ?? file.outputDir,
    listen: values.listen ?? list(env.SHOAL_LISTEN) ?? file.listen,
    bootstrap: values.bootstrap ?? list(env.SHOAL_BOOTSTRAP) ?? file.bootstrap,
    swarm: values.swarm ?? env.SHOAL_SWARM ?? file.swarm,
    localPeersDir: values['peers-dir'] ?? env.SHOAL_PEERS_DIR ?? file.peersDir,
    mdns: values['no-mdns'] === true ? false : file.mdns,
    retention: { keepPerName: keep, maxBytes: maxStore },
    exchange: {
      maxPeersPerArtifact: maxPeers,
      maxUploadBytesPerSecond: rate(values['max-upload'] ?? env.SHOAL_MAX_UPLOAD ?? file.maxUpload, '--max-upload'),
      maxDownloadBytesPerSecond: rate(values['max-download'] ?? env.SHOAL_MAX_DOWNLOAD ?? file.maxDownload, '--max-download')
    }
  }
  const statusFile = values['status-file'] ?? env.SHOAL_STATUS_FILE ?? join(dataDir ?? join(env.HOME ?? '.', '.shoal'), 'status.json')
  return { help: values.help === true, init, statusFile }
}

function rate (raw: unknown, flag: string): number | undefined {
  if (raw == null) return undefined
  try {
    return parseRate(String(raw))
  } catch (err: any) {
    throw new UsageError(`${flag}: ${err.message}`)
  }
}

async function readConfigFile (path: string): Promise<Record<string, any>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err: any) {
    throw new UsageError(`config file ${path} cannot be read (${err.code ?? err.message}) — check the path`)
  }
  try {
    const parsed = JSON.parse(text)
    if (parsed == null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object')
    return parsed
  } catch (err: any) {
    throw new UsageError(`config file ${path} is not a JSON object (${err.message}) — fix its syntax`)
  }
}
