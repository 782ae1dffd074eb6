/**
 * A hand-written SVG chart: one panel per block of the bench, grouped bars
 * (one cluster per producer count, one bar per variant), value labels on the
 * bars. No chart dependency.
 */

export interface ChartSeries {
  label: string;
  /** Fill colour; the palette's next one when absent. */
  color?: string;
  /** One value per cluster; NaN for a missing one. */
  values: number[];
}

export interface ChartPanel {
  title: string;
  /** Axis unit, e.g. 'M msgs/s'; values are drawn as given. */
  unit: string;
  clusters: string[];
  series: ChartSeries[];
}

const WIDTH = 980;
const MARGIN_LEFT = 70;
const MARGIN_RIGHT = 20;
const PLOT_HEIGHT = 220;
const PANEL_TOP = 34;
const LEGEND_ROW = 18;
const PALETTE = [
  '#9e9e9e',
  '#f2a93b',
  '#5a8fd6',
  '#b07cc6',
  '#3aa57a',
  '#d6455a',
  '#7a5230',
  '#2bb0c0',
  '#e377c2',
  '#17becf',
];

function escapeXml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

/** A round axis maximum and step at or above `max`. */
function niceScale(max: number): { top: number; step: number } {
  if (!(max > 0)) return { top: 1, step: 0.25 };
  const rough = max / 4;
  const magnitude = 10 ** Math.floor(Math.log10(rough));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * magnitude).find((candidate) => candidate >= rough) ?? rough;
  return { top: Math.ceil(max / step) * step, step };
}

function formatValue(value: number): string {
  if (value >= 100) return value.toFixed(0);
  if (value >= 10) return value.toFixed(1);
  return value.toFixed(2);
}

function legendRows(panel: ChartPanel): number {
  return Math.ceil(panel.series.length / 3);
}

function panelHeight(panel: ChartPanel): number {
  return PANEL_TOP + PLOT_HEIGHT + 30 + legendRows(panel) * LEGEND_ROW + 16;
}

function renderPanel(panel: ChartPanel, top: number): string {
  const parts: string[] = [];
  const plotTop = top + PANEL_TOP;
  const plotWidth = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
  const values = panel.series.flatMap((series) => series.values).filter((value) => Number.isFinite(value));
  const { top: axisTop, step } = niceScale(Math.max(0, ...values));
  const y = (value: number): number => plotTop + PLOT_HEIGHT - (value / axisTop) * PLOT_HEIGHT;

  parts.push(`<text x="${MARGIN_LEFT}" y="${top + 20}" class="title">${escapeXml(panel.title)}</text>`);
  for (let tick = 0; tick <= axisTop + step / 2; tick += step) {
    const ty = y(tick).toFixed(1);
    parts.push(`<line x1="${MARGIN_LEFT}" x2="${WIDTH - MARGIN_RIGHT}" y1="${ty}" y2="${ty}" class="grid"/>`);
    parts.push(
      `<text x="${MARGIN_LEFT - 6}" y="${ty}" dy="4" text-anchor="end" class="tick">${formatValue(tick)}</text>`,
    );
  }
  parts.push(
    `<text transform="translate(16 ${plotTop + PLOT_HEIGHT / 2}) rotate(-90)" text-anchor="middle" class="tick">${escapeXml(panel.unit)}</text>`,
  );

  const clusterWidth = plotWidth / Math.max(1, panel.clusters.length);
  const barWidth = (clusterWidth * 0.84) / Math.max(1, panel.series.length);
  panel.clusters.forEach((cluster, c) => {
    const clusterLeft = MARGIN_LEFT + c * clusterWidth + clusterWidth * 0.08;
    panel.series.forEach((series, s) => {
      const value = series.values[c];
      if (!Number.isFinite(value)) return;
      const x = clusterLeft + s * barWidth;
      const barTop = y(value);
      const color = series.color ?? PALETTE[s % PALETTE.length];
      parts.push(
        `<rect x="${x.toFixed(1)}" y="${barTop.toFixed(1)}" width="${(barWidth - 2).toFixed(1)}" height="${(plotTop + PLOT_HEIGHT - barTop).toFixed(1)}" fill="${color}"><title>${escapeXml(`${series.label}, ${cluster}: ${formatValue(value)} ${panel.unit}`)}</title></rect>`,
      );
      parts.push(
        `<text x="${(x + barWidth / 2 - 1).toFixed(1)}" y="${(barTop - 3).toFixed(1)}" text-anchor="middle" class="value">${formatValue(value)}</text>`,
      );
    });
    parts.push(
      `<text x="${(MARGIN_LEFT + (c + 0.5) * clusterWidth).toFixed(1)}" y="${plotTop + PLOT_HEIGHT + 18}" text-anchor="middle" class="axis">${escapeXml(cluster)}</text>`,
    );
  });
  parts.push(
    `<line x1="${MARGIN_LEFT}" x2="${WIDTH - MARGIN_RIGHT}" y1="${plotTop + PLOT_HEIGHT}" y2="${plotTop + PLOT_HEIGHT}" class="axisline"/>`,
  );

  const legendTop = plotTop + PLOT_HEIGHT + 36;
  const legendWidth = plotWidth / 3;
  panel.series.forEach((series, s) => {
    const lx = MARGIN_LEFT + (s % 3) * legendWidth;
    const ly = legendTop + Math.floor(s / 3) * LEGEND_ROW;
    parts.push(
      `<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${series.color ?? PALETTE[s % PALETTE.length]}"/>`,
    );
    parts.push(`<text x="${lx + 18}" y="${ly}" class="legend">${escapeXml(series.label)}</text>`);
  });
  return parts.join('\n');
}

/** The whole chart: a heading, a subtitle line, and the panels stacked. */
export function renderChart(title: string, subtitle: string, panels: readonly ChartPanel[]): string {
  let top = 56;
  const body: string[] = [];
  for (const panel of panels) {
    body.push(renderPanel(panel, top));
    top += panelHeight(panel);
  }
  return svgDocument(title, subtitle, top, body);
}

/** An SVG document of `height`: the shared styles, a heading, a subtitle line, then `body`. */
function svgDocument(title: string, subtitle: string, height: number, body: readonly string[]): string {
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="Helvetica, Arial, sans-serif">`,
    '<style>',
    '.heading{font-size:18px;font-weight:bold}.subtitle{font-size:12px;fill:#555}.title{font-size:14px;font-weight:bold}',
    '.tick{font-size:11px;fill:#555}.axis{font-size:12px}.value{font-size:9px;fill:#333}.legend{font-size:12px}',
    '.grid{stroke:#e4e4e4}.axisline{stroke:#888}',
    '</style>',
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<text x="${MARGIN_LEFT}" y="26" class="heading">${escapeXml(title)}</text>`,
    `<text x="${MARGIN_LEFT}" y="44" class="subtitle">${escapeXml(subtitle)}</text>`,
    ...body,
    '</svg>',
    '',
  ].join('\n');
}

// ---- Log-log line chart (latency against offered load) -------------------------

export interface LatencyChartSeries {
  label: string;
  color: string;
  /** NaN y: no point (the rate was not sustained). */
  points: { x: number; y: number }[];
}

export interface LatencyChartPanel {
  title: string;
  series: LatencyChartSeries[];
}

const LOG_PLOT_HEIGHT = 260;

function decadesAround(values: readonly number[]): { low: number; high: number } {
  const finite = values.filter((value) => Number.isFinite(value) && value > 0);
  if (finite.length === 0) return { low: 0, high: 1 };
  return {
    low: Math.floor(Math.log10(Math.min(...finite))),
    high: Math.ceil(Math.log10(Math.max(...finite))),
  };
}

function decadeLabel(exponent: number): string {
  const value = 10 ** exponent;
  if (value >= 1e6) return `${value / 1e6} M`;
  if (value >= 1e3) return `${value / 1e3} k`;
  return exponent < 0 ? value.toFixed(-exponent) : String(value);
}

function renderLogPanel(panel: LatencyChartPanel, top: number): string {
  const parts: string[] = [];
  const plotTop = top + PANEL_TOP;
  const plotWidth = WIDTH - MARGIN_LEFT - MARGIN_RIGHT;
  const xs = decadesAround(panel.series.flatMap((series) => series.points.map((point) => point.x)));
  const ys = decadesAround(panel.series.flatMap((series) => series.points.map((point) => point.y)));
  if (ys.high === ys.low) ys.high++;
  if (xs.high === xs.low) xs.high++;
  const x = (value: number): number =>
    MARGIN_LEFT + ((Math.log10(value) - xs.low) / (xs.high - xs.low)) * plotWidth;
  const y = (value: number): number =>
    plotTop + LOG_PLOT_HEIGHT - ((Math.log10(value) - ys.low) / (ys.high - ys.low)) * LOG_PLOT_HEIGHT;

  parts.push(`<text x="${MARGIN_LEFT}" y="${top + 20}" class="title">${escapeXml(panel.title)}</text>`);
  for (let exponent = ys.low; exponent <= ys.high; exponent++) {
    const ty = y(10 ** exponent).toFixed(1);
    parts.push(`<line x1="${MARGIN_LEFT}" x2="${WIDTH - MARGIN_RIGHT}" y1="${ty}" y2="${ty}" class="grid"/>`);
    parts.push(
      `<text x="${MARGIN_LEFT - 6}" y="${ty}" dy="4" text-anchor="end" class="tick">${exponent >= 3 ? `${10 ** (exponent - 3)} s` : `${decadeLabel(exponent)} ms`}</text>`,
    );
  }
  for (let exponent = xs.low; exponent <= xs.high; exponent++) {
    const tx = x(10 ** exponent).toFixed(1);
    parts.push(
      `<line x1="${tx}" x2="${tx}" y1="${plotTop}" y2="${plotTop + LOG_PLOT_HEIGHT}" class="grid"/>`,
      `<text x="${tx}" y="${plotTop + LOG_PLOT_HEIGHT + 16}" text-anchor="middle" class="axis">${decadeLabel(exponent)}/s</text>`,
    );
  }
  parts.push(
    `<line x1="${MARGIN_LEFT}" x2="${WIDTH - MARGIN_RIGHT}" y1="${plotTop + LOG_PLOT_HEIGHT}" y2="${plotTop + LOG_PLOT_HEIGHT}" class="axisline"/>`,
  );
  for (const series of panel.series) {
    // A line through consecutive sustained rates; a gap where one is missing.
    let path = '';
    let pen = false;
    for (const point of series.points) {
      if (!(Number.isFinite(point.y) && point.y > 0)) {
        pen = false;
        continue;
      }
      path += `${pen ? 'L' : 'M'}${x(point.x).toFixed(1)} ${y(point.y).toFixed(1)} `;
      pen = true;
      parts.push(
        `<circle cx="${x(point.x).toFixed(1)}" cy="${y(point.y).toFixed(1)}" r="3" fill="${series.color}"><title>${escapeXml(`${series.label}, ${point.x}/s: ${point.y.toFixed(3)} ms`)}</title></circle>`,
      );
    }
    if (path !== '') {
      parts.push(`<path d="${path.trim()}" fill="none" stroke="${series.color}" stroke-width="2"/>`);
    }
  }
  const legendTop = plotTop + LOG_PLOT_HEIGHT + 40;
  const legendWidth = plotWidth / 3;
  panel.series.forEach((series, s) => {
    const lx = MARGIN_LEFT + (s % 3) * legendWidth;
    const ly = legendTop + Math.floor(s / 3) * LEGEND_ROW;
    parts.push(`<rect x="${lx}" y="${ly - 10}" width="12" height="12" fill="${series.color}"/>`);
    parts.push(`<text x="${lx + 18}" y="${ly}" class="legend">${escapeXml(series.label)}</text>`);
  });
  return parts.join('\n');
}

/** Panels of lines on log-log axes, stacked, in the same frame as `renderChart`. */
export function renderLatencyChart(
  title: string,
  subtitle: string,
  panels: readonly LatencyChartPanel[],
): string {
  let top = 56;
  const body: string[] = [];
  for (const panel of panels) {
    body.push(renderLogPanel(panel, top));
    top += PANEL_TOP + LOG_PLOT_HEIGHT + 40 + Math.ceil(panel.series.length / 3) * LEGEND_ROW + 10;
  }
  return svgDocument(title, subtitle, top, body);
}
