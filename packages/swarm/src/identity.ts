/**
 * The node's libp2p key lives in its data dir so its peer id (and so its DHT records and the
 * peers that know it) survives restarts.
 */
import { readFile, writeFile, rename } from 'node:fs/promises'
import { join } from 'node:path'
import { generateKeyPair, privateKeyFromProtobuf, privateKeyToProtobuf } from '@libp2p/crypto/keys'
import type { PrivateKey } from '@libp2p/interface'

export async function loadOrCreateKey (dataDir: string): Promise<PrivateKey> {
  const file = join(dataDir, 'peer.key')
  try {
    return privateKeyFromProtobuf(await readFile(file))
  } catch (err: any) {
    if (err.code !== 'ENOENT') throw new Error(`${file} is not a valid key (${err.message}) — move it away to make a new identity`)
  }
  const key = await generateKeyPair('Ed25519')
  await writeFile(`${file}.tmp`, privateKeyToProtobuf(key), { mode: 0o600 })
  await rename(`${file}.tmp`, file)
  return key
}
