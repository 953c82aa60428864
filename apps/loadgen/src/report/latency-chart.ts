/** Latency against rate as a standalone SVG: log-log axes, one polyline per series, the pass limit as a dashed line. */

export interface ChartPoint {
  x: number;
  y: number;
  /** A failed run is drawn hollow. */
  failed?: boolean;
  /** Drawn as a square and left out of the line (e.g. the comparison run at half the baseline's saturation). */
  separate?: boolean;
}

export interface ChartSeries {
  label: string;
  color: string;
  dashed?: boolean;
  points: ChartPoint[];
}

export interface ChartOptions {
  title: string;
  subtitle?: string;
  xLabel: string;
  yLabel: string;
  series: ChartSeries[];
  /** Horizontal reference line, e.g. the 100 ms p99 limit. */
  limit?: { y: number; label: string };
  /** Vertical markers, e.g. each system's saturation rate. */
  markers?: Array<{ x: number; label: string; color: string }>;
  /** Legend line explaining separate (square) points. */
  separateNote?: string;
}

const WIDTH = 860;
const HEIGHT = 520;
const MARGIN = { left: 70, right: 190, top: 60, bottom: 60 };

const escapeXml = (text: string): string => text.replace(/[&<>"']/g, (char) => `&#${char.charCodeAt(0)};`);

/** 1-2-5 ticks covering [min, max] on a log axis. */
export function logTicks(min: number, max: number): number[] {
  const ticks: number[] = [];
  for (let exponent = Math.floor(Math.log10(min)); exponent <= Math.ceil(Math.log10(max)); exponent++) {
    for (const mantissa of [1, 2, 5]) {
      const value = mantissa * 10 ** exponent;
      if (value >= min / 1.0001 && value <= max * 1.0001) ticks.push(Number(value.toPrecision(6)));
    }
  }
  return ticks;
}

/** The nearest 1-2-5 value at or above (up) or at or below (down) a positive number. */
export function nice125(value: number, direction: 'up' | 'down'): number {
  const exponent = Math.floor(Math.log10(value));
  const candidates = [-1, 0, 1].flatMap((shift) => [1, 2, 5].map((mantissa) => Number((mantissa * 10 ** (exponent + shift)).toPrecision(6))));
  return direction === 'up' ? Math.min(...candidates.filter((candidate) => candidate >= value)) : Math.max(...candidates.filter((candidate) => candidate <= value));
}

const label = (value: number): string => (value >= 1000 ? `${value / 1000}k` : String(value));

export function renderLatencyChart(options: ChartOptions): string {
  const points = options.series.flatMap((series) => series.points).filter((point) => point.x > 0 && point.y > 0);
  const ys = [...points.map((point) => point.y), ...(options.limit ? [options.limit.y] : [])];
  const xs = [...points.map((point) => point.x), ...(options.markers ?? []).map((marker) => marker.x)];
  // Some room around the data (and above the limit line) so nothing sits on the frame.
  const xMin = nice125(Math.min(...xs, 100) / 1.2, 'down');
  const xMax = nice125(Math.max(...xs, 1000) * 1.2, 'up');
  const yMin = nice125(Math.min(...ys, 1) / 1.3, 'down');
  const yMax = nice125(Math.max(...ys, 10) * 1.5, 'up');
  const plotWidth = WIDTH - MARGIN.left - MARGIN.right;
  const plotHeight = HEIGHT - MARGIN.top - MARGIN.bottom;
  const sx = (x: number): number => MARGIN.left + ((Math.log10(x) - Math.log10(xMin)) / (Math.log10(xMax) - Math.log10(xMin))) * plotWidth;
  const sy = (y: number): number => MARGIN.top + plotHeight - ((Math.log10(y) - Math.log10(yMin)) / (Math.log10(yMax) - Math.log10(yMin))) * plotHeight;
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="sans-serif" font-size="12">`);
  out.push(`<rect width="${WIDTH}" height="${HEIGHT}" fill="white"/>`);
  out.push(`<text x="${MARGIN.left}" y="24" font-size="16" font-weight="bold">${escapeXml(options.title)}</text>`);
  if (options.subtitle) out.push(`<text x="${MARGIN.left}" y="42" fill="#555">${escapeXml(options.subtitle)}</text>`);
  for (const tick of logTicks(xMin, xMax)) {
    out.push(`<line x1="${sx(tick).toFixed(1)}" y1="${MARGIN.top}" x2="${sx(tick).toFixed(1)}" y2="${MARGIN.top + plotHeight}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${sx(tick).toFixed(1)}" y="${MARGIN.top + plotHeight + 18}" text-anchor="middle">${label(tick)}</text>`);
  }
  for (const tick of logTicks(yMin, yMax)) {
    out.push(`<line x1="${MARGIN.left}" y1="${sy(tick).toFixed(1)}" x2="${MARGIN.left + plotWidth}" y2="${sy(tick).toFixed(1)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${MARGIN.left - 8}" y="${(sy(tick) + 4).toFixed(1)}" text-anchor="end">${label(tick)}</text>`);
  }
  out.push(`<rect x="${MARGIN.left}" y="${MARGIN.top}" width="${plotWidth}" height="${plotHeight}" fill="none" stroke="#333"/>`);
  out.push(`<text x="${MARGIN.left + plotWidth / 2}" y="${HEIGHT - 18}" text-anchor="middle">${escapeXml(options.xLabel)}</text>`);
  out.push(`<text transform="translate(18 ${MARGIN.top + plotHeight / 2}) rotate(-90)" text-anchor="middle">${escapeXml(options.yLabel)}</text>`);
  if (options.limit) {
    const y = sy(options.limit.y).toFixed(1);
    out.push(`<line x1="${MARGIN.left}" y1="${y}" x2="${MARGIN.left + plotWidth}" y2="${y}" stroke="#c00" stroke-dasharray="6 4"/>`);
    out.push(`<text x="${MARGIN.left + 6}" y="${(Number(y) - 6).toFixed(1)}" fill="#c00">${escapeXml(options.limit.label)}</text>`);
  }
  (options.markers ?? []).forEach((marker, index) => {
    const x = sx(marker.x).toFixed(1);
    out.push(`<line x1="${x}" y1="${MARGIN.top}" x2="${x}" y2="${MARGIN.top + plotHeight}" stroke="${marker.color}" stroke-dasharray="2 3"/>`);
    // Stacked inside the plot's bottom so markers at the same rate stay readable.
    out.push(`<text x="${(Number(x) + 4).toFixed(1)}" y="${MARGIN.top + plotHeight - 8 - index * 15}" fill="${marker.color}">${escapeXml(marker.label)}</text>`);
  });
  options.series.forEach((series, index) => {
    const visible = series.points.filter((point) => point.x > 0 && point.y > 0).sort((a, b) => a.x - b.x);
    const joined = visible.filter((point) => !point.separate);
    const path = joined.map((point) => `${sx(point.x).toFixed(1)},${sy(point.y).toFixed(1)}`).join(' ');
    out.push(`<g class="series" data-label="${escapeXml(series.label)}">`);
    if (joined.length > 1) {
      out.push(`<polyline points="${path}" fill="none" stroke="${series.color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 3"' : ''}/>`);
    }
    for (const point of visible) {
      const title = `<title>${escapeXml(`${series.label}: ${point.x}/s, ${point.y.toFixed(2)} ms${point.failed ? ' (failed)' : ''}`)}</title>`;
      const paint = `stroke="${series.color}" stroke-width="2" fill="${point.failed ? 'white' : series.color}"`;
      const [cx, cy] = [sx(point.x), sy(point.y)];
      out.push(
        point.separate
          ? `<rect x="${(cx - 4).toFixed(1)}" y="${(cy - 4).toFixed(1)}" width="8" height="8" ${paint}>${title}</rect>`
          : `<circle cx="${cx.toFixed(1)}" cy="${cy.toFixed(1)}" r="4" ${paint}>${title}</circle>`,
      );
    }
    out.push('</g>');
    const legendY = MARGIN.top + 10 + index * 22;
    const legendX = MARGIN.left + plotWidth + 16;
    out.push(
      `<line x1="${legendX}" y1="${legendY}" x2="${legendX + 26}" y2="${legendY}" stroke="${series.color}" stroke-width="2"${series.dashed ? ' stroke-dasharray="6 3"' : ''}/>`,
    );
    out.push(`<text x="${legendX + 32}" y="${legendY + 4}">${escapeXml(series.label)}</text>`);
  });
  const noteY = MARGIN.top + 10 + options.series.length * 22 + 10;
  out.push(`<text x="${MARGIN.left + plotWidth + 16}" y="${noteY}" fill="#555">hollow: failed run</text>`);
  if (options.separateNote) out.push(`<text x="${MARGIN.left + plotWidth + 16}" y="${noteY + 18}" fill="#555">${escapeXml(options.separateNote)}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
