import type { Writable } from "node:stream";
import type { GlobalOptions } from "./globals.js";

// stdout carries data only (tables, JSON); everything human — progress, notes, warnings —
// goes to stderr, so `btw tenant list --json | jq` and cron mail both stay clean.

export interface Column<T> {
  header: string;
  value: (row: T) => string | number | null | undefined;
  align?: "left" | "right";
}

export class Output {
  constructor(
    private readonly stdout: Writable,
    private readonly stderr: Writable,
    private readonly globals: GlobalOptions,
  ) {}

  get json(): boolean {
    return this.globals.json;
  }

  /** The command's result: JSON with --json, else the human rendering given. */
  result(data: unknown, human?: () => string): void {
    if (this.globals.json) this.stdout.write(JSON.stringify(data, null, 2) + "\n");
    else if (human) {
      const text = human();
      if (text) this.stdout.write(text.endsWith("\n") ? text : text + "\n");
    }
  }

  table<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
    return renderTable(rows, columns);
  }

  /** A note for the human at the terminal: stderr, never in --json data. */
  info(message: string): void {
    this.stderr.write(message + "\n");
  }

  warn(message: string): void {
    this.stderr.write(`${this.paint("warning:", 33)} ${message}\n`);
  }

  verbose(message: string): void {
    if (this.globals.verbose) this.stderr.write(this.paint(message, 2) + "\n");
  }

  success(message: string): void {
    this.stderr.write(`${this.paint("✓", 32)} ${message}\n`);
  }

  /** ANSI without loading chalk: keeps `btw --help` instant. */
  paint(text: string, sgr: number): string {
    return this.globals.color ? `\x1b[${sgr}m${text}\x1b[0m` : text;
  }
}

export function renderTable<T>(rows: readonly T[], columns: readonly Column<T>[]): string {
  const cells = rows.map((r) => columns.map((c) => formatCell(c.value(r))));
  const widths = columns.map((c, i) => Math.max(c.header.length, ...cells.map((row) => row[i]!.length)));
  const line = (values: string[]) =>
    values
      .map((v, i) => (columns[i]!.align === "right" ? v.padStart(widths[i]!) : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  return [line(columns.map((c) => c.header.toUpperCase())), ...cells.map(line)].join("\n") + "\n";
}

function formatCell(v: string | number | null | undefined): string {
  if (v === null || v === undefined || v === "") return "-";
  return String(v);
}
