/** A one-line progress bar on a TTY; on anything else, a line every 10 % so logs stay short */
export class Progress {
  private readonly label: string
  private readonly out: NodeJS.WriteStream
  private readonly enabled: boolean
  private lastDecile = -1
  private lastDraw = 0

  constructor (label: string, out: NodeJS.WriteStream, enabled: boolean) {
    this.label = label
    this.out = out
    this.enabled = enabled
  }

  update (done: number, total: number): void {
    if (!this.enabled) return
    const frac = total === 0 ? 1 : done / total
    if (this.out.isTTY === true) {
      const now = Date.now()
      if (now - this.lastDraw < 100 && done < total) return
      this.lastDraw = now
      const width = 30
      const filled = Math.round(frac * width)
      this.out.write(`\r${this.label} [${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${(frac * 100).toFixed(1)}%`)
      return
    }
    const decile = Math.floor(frac * 10)
    if (decile !== this.lastDecile) {
      this.lastDecile = decile
      this.out.write(`${this.label} ${decile * 10}%\n`)
    }
  }

  done (): void {
    if (this.enabled && this.out.isTTY === true) this.out.write('\n')
  }
}
