/** Command line of the publisher: `publisher push <file> [options]` */
import { open, stat } from 'node:fs/promises'
import { homedir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { MAX_CHUNK_SIZE, MIN_CHUNK_SIZE, parseRate } from '@shoal/content'
import type { ShoalNodeInit } from '@shoal/swarm'

export const USAGE = `Usage: publisher push <file> [options]

Chunks <file>, announces it to the swarm and serves it until --replicas nodes
hold a full verified copy, then prints the artifact id and exits 0.

Options (environment variable in brackets):
  --replicas <n>        nodes that must hold a full copy before exiting (default 1)
  --chunk-size <bytes>  chunk size, 1024..4194304 (default 1048576)
  --listen <addr>       multiaddr to listen on, repeatable (default /ip4/0.0.0.0/tcp/0)
  --bootstrap <addr>    peer to join through, /ip4/.../tcp/.../p2p/<id>, repeatable [SHOAL_BOOTSTRAP]
  --swarm <name>        swarm name [SHOAL_SWARM] (default "default")
  --peers-dir <dir>     same-machine rendezvous directory [SHOAL_PEERS_DIR]
  --data-dir <dir>      publisher state [SHOAL_PUBLISHER_DIR] (default ~/.shoal/publisher)
  --timeout <seconds>   give up (exit 1) if the replicas are not reached in time (default: wait)
  --max-upload <rate>   cap on upload, e.g. 40mbit, 5MB, 2MiB per second [SHOAL_MAX_UPLOAD] (default: none)
  --max-download <rate> cap on download [SHOAL_MAX_DOWNLOAD] (default: none)
  --no-mdns             do not look for LAN peers with mDNS
  -q, --quiet           print only the artifact id
  -h, --help            show this help
`

export interface PublisherOptions {
  help: boolean
  file: string
  replicas: number
  chunkSize?: number
  timeoutMs?: number
  quiet: boolean
  init: ShoalNodeInit
}

export class UsageError extends Error {
  readonly code = 'ERR_USAGE'
}

export async function readOptions (argv: string[], env: NodeJS.ProcessEnv): Promise<PublisherOptions> {
  let values, positionals
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      strict: true,
      allowPositionals: true,
      options: {
        replicas: { type: 'string' },
        'chunk-size': { type: 'string' },
        listen: { type: 'string', multiple: true },
        bootstrap: { type: 'string', multiple: true },
        swarm: { type: 'string' },
        'peers-dir': { type: 'string' },
        'data-dir': { type: 'string' },
        timeout: { type: 'string' },
        'max-upload': { type: 'string' },
        'max-download': { type: 'string' },
        'no-mdns': { type: 'boolean' },
        quiet: { type: 'boolean', short: 'q' },
        help: { type: 'boolean', short: 'h' }
      }
    }))
  } catch (err: any) {
    throw new UsageError(`${err.message.split('\n')[0].replace(/\. .*$/, '')} — see publisher --help`)
  }
  const help = values.help === true
  if (help) return { help, file: '', replicas: 1, quiet: false, init: {} }
  const [command, file, ...extra] = positionals
  if (command !== 'push') throw new UsageError(command == null ? 'missing command — usage: publisher push <file>' : `unknown command "${command}" — usage: publisher push <file>`)
  if (file == null) throw new UsageError('missing file — usage: publisher push <file>')
  if (extra.length > 0) throw new UsageError(`unexpected argument "${extra[0]}" — push takes one file`)
  const replicas = integer(values.replicas ?? '1', '--replicas', 0)
  const chunkSize = values['chunk-size'] != null ? integer(values['chunk-size'], '--chunk-size', MIN_CHUNK_SIZE, MAX_CHUNK_SIZE) : undefined
  const timeoutMs = values.timeout != null ? integer(values.timeout, '--timeout', 1) * 1000 : undefined
  await checkFile(file)
  const list = (s?: string): string[] | undefined => s?.split(',').map(x => x.trim()).filter(x => x !== '')
  return {
    help,
    file: resolve(file),
    replicas,
    chunkSize,
    timeoutMs,
    quiet: values.quiet === true,
    init: {
      dataDir: values['data-dir'] ?? env.SHOAL_PUBLISHER_DIR ?? join(homedir(), '.shoal', 'publisher'),
      listen: values.listen ?? ['/ip4/0.0.0.0/tcp/0'],
      bootstrap: values.bootstrap ?? list(env.SHOAL_BOOTSTRAP),
      swarm: values.swarm ?? env.SHOAL_SWARM,
      localPeersDir: values['peers-dir'] ?? env.SHOAL_PEERS_DIR,
      mdns: values['no-mdns'] === true ? false : undefined,
      fetchAnnounced: false,
      exchange: {
        maxUploadBytesPerSecond: rate(values['max-upload'] ?? env.SHOAL_MAX_UPLOAD, '--max-upload'),
        maxDownloadBytesPerSecond: rate(values['max-download'] ?? env.SHOAL_MAX_DOWNLOAD, '--max-download')
      }
    }
  }
}

function rate (raw: string | undefined, flag: string): number | undefined {
  if (raw == null) return undefined
  try {
    return parseRate(raw)
  } catch (err: any) {
    throw new UsageError(`${flag}: ${err.message}`)
  }
}

function integer (raw: string, flag: string, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const n = Number(raw)
  if (!/^\d+$/.test(raw) || !Number.isSafeInteger(n) || n < min || n > max) {
    throw new UsageError(`${flag} must be an integer ${max === Number.MAX_SAFE_INTEGER ? `>= ${min}` : `from ${min} to ${max}`}, got "${raw}"`)
  }
  return n
}

/** Fail before starting any networking when the file cannot be published */
async function checkFile (file: string): Promise<void> {
  let s
  try {
    s = await stat(file)
  } catch (err: any) {
    if (err.code === 'ENOENT') throw new UsageError(`${file}: no such file — check the path`)
    throw new UsageError(`${file}: cannot be read (${err.code ?? err.message})`)
  }
  if (s.isDirectory()) throw new UsageError(`${file} is a directory — push one file (tar it first)`)
  if (!s.isFile()) throw new UsageError(`${file} is not a regular file`)
  // stat succeeds on a file we may not read; open it so that fails here, in one line.
  try {
    await (await open(file, 'r')).close()
  } catch (err: any) {
    throw new UsageError(`${file}: cannot be read (${err.code ?? err.message}) — check its permissions`)
  }
}
