/**
 * The benchmark's plot as a hand-written SVG (no dependencies): the completion-time CDF of every
 * node for Shoal and for the one-HTTP-server baseline, with vertical lines at T*, 1.2·T* and the
 * client–server bound N·F/u_s. The x axis is logarithmic, so Shoal's curve near T* and the
 * baseline's near N·T* both stay readable; every tick is labelled in seconds and as a multiple of T*.
 */

const W = 900
const H = 500
const M = { left: 70, right: 30, top: 56, bottom: 96 }
const COLORS = { shoal: '#1f77b4', http: '#d9661a', grid: '#e3e3e3', axis: '#333', ref: '#555' }

function esc (s) {
  return String(s).replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

function num (x) {
  return Number(x.toFixed(2))
}

/**
 * @param {object} o
 * @param {string} o.title
 * @param {number} o.tStar      seconds
 * @param {number} [o.httpBound] seconds, N·F/u_s
 * @param {Array<{label: string, key: 'shoal'|'http', times: number[]}>} o.series completion seconds per node
 */
export function renderCdf ({ title, subtitle, tStar, httpBound, series }) {
  const all = series.flatMap(s => s.times).filter(t => Number.isFinite(t) && t > 0)
  const refs = [tStar, 1.2 * tStar, ...(httpBound != null && series.some(s => s.key === 'http') ? [httpBound] : [])]
  const lo = Math.min(0.5 * tStar, ...all.map(t => t * 0.8))
  const hi = Math.max(1.5 * tStar, ...all.map(t => t * 1.15), ...refs.map(r => r * 1.1))
  const n = Math.max(1, ...series.map(s => s.times.length))
  const pw = W - M.left - M.right
  const ph = H - M.top - M.bottom
  const x = t => M.left + (Math.log(t) - Math.log(lo)) / (Math.log(hi) - Math.log(lo)) * pw
  const y = k => M.top + ph - k / n * ph

  const out = []
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="sans-serif" font-size="12">`)
  out.push(`<rect width="${W}" height="${H}" fill="white"/>`)
  out.push(`<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(title)}</text>`)
  if (subtitle != null) out.push(`<text x="${W / 2}" y="40" text-anchor="middle" fill="#555">${esc(subtitle)}</text>`)

  // x ticks: multiples of T* that fall in range, each labelled ×T* and in seconds
  const multiples = [0.25, 0.5, 0.75, 1, 1.2, 1.5, 2, 3, 4, 5, 7, 10, 15, 20, 30, 40, 50, 70, 100, 150, 200, 300, 500, 1000]
  let lastX = -Infinity
  for (const mult of multiples) {
    const t = mult * tStar
    if (t < lo || t > hi) continue
    const px = x(t)
    if (px - lastX < 38) continue // keep labels apart
    lastX = px
    out.push(`<line x1="${num(px)}" y1="${M.top}" x2="${num(px)}" y2="${M.top + ph}" stroke="${COLORS.grid}"/>`)
    out.push(`<text x="${num(px)}" y="${M.top + ph + 16}" text-anchor="middle">${mult}×</text>`)
    out.push(`<text x="${num(px)}" y="${M.top + ph + 32}" text-anchor="middle" fill="#555">${t < 10 ? t.toFixed(1) : t.toFixed(0)} s</text>`)
  }
  out.push(`<text x="${M.left - 30}" y="${M.top + ph + 16}" text-anchor="end" font-style="italic">× T*</text>`)
  out.push(`<text x="${M.left - 30}" y="${M.top + ph + 32}" text-anchor="end" font-style="italic" fill="#555">s</text>`)
  out.push(`<text x="${M.left + pw / 2}" y="${M.top + ph + 52}" text-anchor="middle">completion time since the announcement: multiples of T* (top row) and seconds (bottom row), log scale</text>`)

  // y ticks: nodes complete
  const step = Math.max(1, Math.ceil(n / 8))
  for (let k = 0; k <= n; k += step) {
    out.push(`<line x1="${M.left}" y1="${num(y(k))}" x2="${M.left + pw}" y2="${num(y(k))}" stroke="${COLORS.grid}"/>`)
    out.push(`<text x="${M.left - 6}" y="${num(y(k) + 4)}" text-anchor="end">${k}</text>`)
  }
  out.push(`<text transform="translate(18 ${M.top + ph / 2}) rotate(-90)" text-anchor="middle">nodes complete (of ${n})</text>`)
  out.push(`<rect x="${M.left}" y="${M.top}" width="${pw}" height="${ph}" fill="none" stroke="${COLORS.axis}"/>`)

  // reference lines
  const ref = (t, label, dash) => {
    if (t < lo || t > hi) return
    out.push(`<line x1="${num(x(t))}" y1="${M.top}" x2="${num(x(t))}" y2="${M.top + ph}" stroke="${COLORS.ref}" stroke-width="1.5"${dash != null ? ` stroke-dasharray="${dash}"` : ''}/>`)
    refLabels.push(`<text x="${num(x(t) + 4)}" y="${M.top + 14}" fill="${COLORS.ref}" stroke="white" stroke-width="4" paint-order="stroke">${esc(label)}</text>`)
  }
  const refLabels = [] // drawn last, with a white halo, so the curves do not hide them
  ref(tStar, 'T*')
  ref(1.2 * tStar, '1.2 T*', '6 4')
  if (refs.length > 2) ref(httpBound, 'N·F/u_s', '2 3')

  // one step curve per series
  series.forEach((s, idx) => {
    const times = s.times.filter(t => Number.isFinite(t) && t > 0).sort((a, b) => a - b)
    if (times.length === 0) return
    let d = `M${num(x(lo))},${num(y(0))}`
    times.forEach((t, i) => { d += ` H${num(x(t))} V${num(y(i + 1))}` })
    const color = COLORS[s.key] ?? '#000'
    out.push(`<path d="${d}" fill="none" stroke="${color}" stroke-width="2.2"/>`)
    times.forEach((t, i) => out.push(`<circle cx="${num(x(t))}" cy="${num(y(i + 1))}" r="2.6" fill="${color}"/>`))
    const ly = H - 22
    const lx = M.left + idx * 330
    out.push(`<line x1="${lx}" y1="${ly - 4}" x2="${lx + 24}" y2="${ly - 4}" stroke="${color}" stroke-width="3"/>`)
    out.push(`<text x="${lx + 30}" y="${ly}">${esc(s.label)}</text>`)
  })
  out.push(...refLabels)
  out.push('</svg>')
  return `${out.join('\n')}\n`
}
