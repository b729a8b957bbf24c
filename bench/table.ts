/** The benchmark's figures: every value measured, per row and way, printed as medians. */
export type Way = "baseline" | "program";

interface Row {
  readonly digits: number;
  readonly values: Record<Way, number[]>;
  /** Shown instead of a baseline figure, e.g. why the old way has none. */
  readonly baselineNote?: string;
}

const rows = new Map<string, Row>();

/** Add one measured value to a row (rows print in the order they were first noted). */
export function note(label: string, way: Way, value: number | undefined, digits = 1, baselineNote?: string): void {
  const row = rows.get(label) ?? { digits, values: { baseline: [], program: [] }, baselineNote };
  if (value !== undefined && Number.isFinite(value)) row.values[way].push(value);
  rows.set(label, row);
}

export function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

function cell(values: number[], digits: number): string {
  if (values.length === 0) return "-";
  const m = median(values).toFixed(digits);
  const lo = Math.min(...values).toFixed(digits);
  const hi = Math.max(...values).toFixed(digits);
  return lo === hi ? m : `${m} (${lo}-${hi})`;
}

function ratio(baseline: number[], program: number[]): string {
  if (baseline.length === 0 || program.length === 0) return "-";
  const [b, p] = [median(baseline), median(program)];
  if (p === 0) return b === 0 ? "=" : "inf";
  return `${(b / p).toFixed(1)}x`;
}

export function printTable(footer: string): void {
  const header = ["metric (median of runs; min-max)", "old way", "this program", "old / this"];
  const lines = [...rows].map(([label, row]) => [
    label,
    row.values.baseline.length === 0 && row.baselineNote ? row.baselineNote : cell(row.values.baseline, row.digits),
    cell(row.values.program, row.digits),
    ratio(row.values.baseline, row.values.program),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
  const format = (cols: string[]) => `| ${cols.map((c, i) => c.padEnd(widths[i])).join(" | ")} |`;
  console.log(format(header));
  console.log(`|${widths.map((w) => "-".repeat(w + 2)).join("|")}|`);
  for (const line of lines) console.log(format(line));
  console.log(`\n${footer}`);
}
