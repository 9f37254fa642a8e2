/**
 * A process identifier, unique within a kernel for its whole life (never reused).
 * Printed like Erlang's: `<node.N>`.
 */
export class Pid {
  readonly id: number;
  readonly node: string;
  /** @internal */
  constructor(
    id: number,
    node: string,
  ) {
    this.id = id;
    this.node = node;
  }
  #text: string | undefined = undefined;
  toString(): string {
    // built once: a pid is printed in every delivery label, report and trace event about it
    return (this.#text ??= `<${this.node}.${this.id}>`);
  }
  toJSON(): string {
    return this.toString();
  }
}

export function isPid(x: unknown): x is Pid {
  return x instanceof Pid;
}
