/** Where a command writes: its results on `out` (stdout), errors and diagnostics on `err` (stderr). */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
  /** stdout is a terminal (colours, redraws). */
  readonly isTTY: boolean;
  /** The process environment (ORDO_* variables). */
  readonly vars: Readonly<Record<string, string | undefined>>;
}
