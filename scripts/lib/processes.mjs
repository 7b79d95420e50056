/**
 * The child processes a script (demo, bench, footprint) starts, tracked by pid so each is
 * stopped on its own — never a process group or a name, since other runs of the same binaries
 * may share the machine. `failure` rejects as soon as a process stops when it should not, so
 * every wait can race against it. Plain ESM on Node 20 built-ins.
 */
import { spawn } from 'node:child_process'
import { closeSync, openSync, writeSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

export const REPO_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const NODE_BIN = join(REPO_ROOT, 'apps/node/bin/shoal-node.js')
export const PUBLISHER_BIN = join(REPO_ROOT, 'apps/publisher/bin/publisher.js')

/** A failure worth one line, with the log that explains it (the work dir is then kept) */
export class RunError extends Error {
  constructor (message, logPath) {
    super(message)
    this.logPath = logPath
  }
}

export class Processes {
  /**
   * @param {object} [init]
   * @param {string} [init.cwd] - working directory of every child (default: the repo root)
   * @param {number} [init.killGraceMs] - SIGTERM → SIGKILL grace period (default 5000)
   * @param {(pid: number) => void} [init.onStart] - told every new pid (e.g. a CPU monitor)
   */
  constructor ({ cwd = REPO_ROOT, killGraceMs = 5_000, onStart } = {}) {
    this.cwd = cwd
    this.killGraceMs = killGraceMs
    this.onStart = onStart
    this.list = []
    this.stopping = false
    this.failure = new Promise((resolve, reject) => { this.fail = reject })
    this.failure.catch(() => {})
  }

  /**
   * Starts `argv` (`[command, ...args]`; `ip netns exec` execs in place, so the pid is the
   * program's own). Output is appended to `logPath`; with `onStdoutLine` / `onStderrLine` that
   * stream is also split into lines, each passed on with the time it arrived, and with
   * `captureStdout` stdout is collected in `proc.stdout`.
   */
  start (name, argv, { logPath, onStdoutLine, onStderrLine, captureStdout = false, env, stdin = false } = {}) {
    const fd = logPath != null ? openSync(logPath, 'a') : undefined
    const sink = fd ?? 'ignore'
    const pipeOut = onStdoutLine != null || captureStdout
    const pipeErr = onStderrLine != null
    const child = spawn(argv[0], argv.slice(1), {
      cwd: this.cwd,
      env: env ?? process.env,
      stdio: [stdin ? 'pipe' : 'ignore', pipeOut ? 'pipe' : sink, pipeErr ? 'pipe' : sink]
    })
    const proc = { name, child, pid: child.pid, logPath, stdout: '', exit: undefined, startedAt: Date.now() }
    const follow = (stream, onLine, capture) => {
      let rest = ''
      stream.on('data', (d) => {
        const text = d.toString()
        if (capture) proc.stdout += text
        if (fd != null) try { writeSync(fd, text) } catch {}
        if (onLine == null) return
        const lines = (rest + text).split('\n')
        rest = lines.pop()
        const at = Date.now()
        for (const line of lines) onLine(line, at)
      })
    }
    if (pipeOut) follow(child.stdout, onStdoutLine, captureStdout)
    if (pipeErr) follow(child.stderr, onStderrLine, false)
    proc.exited = new Promise((resolve) => {
      child.on('error', (err) => {
        proc.exit ??= { code: null, signal: null, error: err }
        resolve(proc.exit)
      })
      child.on('close', (code, signal) => { // after 'exit', once its pipes are drained
        proc.exit ??= { code, signal }
        resolve(proc.exit)
      })
    })
    // The log fd is needed here only while piped output can still arrive.
    if (fd != null) {
      if (pipeOut || pipeErr) proc.exited.then(() => closeSync(fd))
      else closeSync(fd)
    }
    if (child.pid != null) this.onStart?.(child.pid)
    this.list.push(proc)
    return proc
  }

  /** A process that must not exit on its own while the script runs (a node daemon) */
  failOnAnyExit (proc) {
    proc.exited.then((exit) => {
      if (!this.stopping && !proc.expectedExit) this.fail(new RunError(`${proc.name} exited early (${describeExit(exit)})`, proc.logPath))
    })
  }

  /** A process that must exit 0 (the publisher, a client); its last log line says why not */
  failOnError (proc, what = proc.name) {
    proc.exited.then(async (exit) => {
      if (this.stopping || proc.expectedExit || exit.code === 0) return
      const why = await lastLineOf(proc.logPath)
      this.fail(new RunError(`${what} failed (${describeExit(exit)}${why != null ? `: ${why}` : ''})`, proc.logPath))
    })
  }

  /** SIGTERM the given processes (default: all), SIGKILL any still there after the grace period */
  async stop (procs = this.list) {
    if (procs === this.list) this.stopping = true
    await Promise.all(procs.map(async (proc) => { await this.#stopOne(proc) }))
  }

  killAllNow () {
    for (const proc of this.list) if (proc.exit == null) signalPid(proc.pid, 'SIGKILL')
  }

  async #stopOne (proc) {
    proc.expectedExit = true
    if (proc.exit != null || proc.pid == null) return
    signalPid(proc.pid, 'SIGTERM')
    const timer = setTimeout(() => { signalPid(proc.pid, 'SIGKILL') }, this.killGraceMs)
    await proc.exited
    clearTimeout(timer)
  }
}

function signalPid (pid, signal) {
  try {
    process.kill(pid, signal)
  } catch {} // already gone
}

/** `exit code 1`, `killed by SIGKILL` or `could not start: …` */
export function describeExit (exit) {
  if (exit.error != null) return `could not start: ${exit.error.message}`
  return exit.signal != null ? `killed by ${exit.signal}` : `exit code ${exit.code}`
}

/** The last non-empty line of a log file, if any */
export async function lastLineOf (path) {
  if (path == null) return undefined
  const text = await readFile(path, 'utf8').catch(() => '')
  return text.split('\n').map(l => l.trim()).filter(l => l !== '').at(-1)
}
