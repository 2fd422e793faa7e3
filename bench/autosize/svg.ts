/** A tiny SVG line-chart writer for the simulator's time series (generated, never hand-drawn). */
export interface Series {
  label: string;
  color: string;
  points: [number, number][];
  dashed?: boolean;
}

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function niceMax(v: number): number {
  if (v <= 0) return 1;
  const p = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * p >= v) return m * p;
  return 10 * p;
}

/** One panel; `y0` is its top offset inside the document. */
function panel(
  title: string,
  yLabel: string,
  series: Series[],
  xMax: number,
  y0: number,
  w: number,
  h: number,
): string {
  const left = 60;
  const right = 170;
  const top = y0 + 24;
  const pw = w - left - right;
  const ph = h - 54;
  const yMax = niceMax(Math.max(1, ...series.flatMap((s) => s.points.map((p) => p[1]))));
  const x = (v: number) => left + (v / xMax) * pw;
  const y = (v: number) => top + ph - (Math.min(v, yMax) / yMax) * ph;
  const out: string[] = [];
  out.push(`<text x="${left}" y="${y0 + 16}" font-size="13" font-weight="bold">${esc(title)}</text>`);
  out.push(`<rect x="${left}" y="${top}" width="${pw}" height="${ph}" fill="none" stroke="#999"/>`);
  for (let i = 0; i <= 4; i++) {
    const v = (yMax * i) / 4;
    out.push(`<line x1="${left}" x2="${left + pw}" y1="${y(v)}" y2="${y(v)}" stroke="#eee"/>`);
    out.push(
      `<text x="${left - 6}" y="${y(v) + 4}" font-size="10" text-anchor="end">${+v.toFixed(1)}</text>`,
    );
  }
  const xStep = xMax > 400 ? 120 : 60;
  for (let v = 0; v <= xMax; v += xStep) {
    out.push(`<text x="${x(v)}" y="${top + ph + 14}" font-size="10" text-anchor="middle">${v}s</text>`);
  }
  out.push(
    `<text x="14" y="${top + ph / 2}" font-size="10" transform="rotate(-90 14 ${top + ph / 2})" text-anchor="middle">${esc(yLabel)}</text>`,
  );
  series.forEach((s, i) => {
    const d = s.points
      .map((p, k) => `${k === 0 ? 'M' : 'L'}${x(p[0]).toFixed(1)},${y(p[1]).toFixed(1)}`)
      .join('');
    out.push(
      `<path d="${d}" fill="none" stroke="${s.color}" stroke-width="1.5"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
    );
    const ly = top + 12 + i * 16;
    out.push(
      `<line x1="${left + pw + 10}" x2="${left + pw + 30}" y1="${ly - 4}" y2="${ly - 4}" stroke="${s.color}" stroke-width="2"${s.dashed ? ' stroke-dasharray="5,3"' : ''}/>`,
    );
    out.push(`<text x="${left + pw + 34}" y="${ly}" font-size="10">${esc(s.label)}</text>`);
  });
  return out.join('\n');
}

export function chart(
  title: string,
  panels: { title: string; yLabel: string; series: Series[] }[],
  xMax: number,
): string {
  const w = 760;
  const h = 230;
  const body = panels.map((p, i) => panel(p.title, p.yLabel, p.series, xMax, 28 + i * h, w, h)).join('\n');
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${28 + panels.length * h}" font-family="sans-serif">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="10" y="18" font-size="15" font-weight="bold">${esc(title)}</text>`,
    body,
    '</svg>',
    '',
  ].join('\n');
}
