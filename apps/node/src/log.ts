/** Timestamped log lines on stdout, so a supervisor (systemd, a test) can follow the node */
export function log (line: string): void {
  process.stdout.write(`${new Date().toISOString()} ${line}\n`)
}
