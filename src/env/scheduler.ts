/**
 * The seam through which a simulator orders cross-process deliveries. The kernel hands every
 * message, exit signal and monitor notice for another process to `deliver` when the Env has a
 * scheduler, and runs it at once otherwise (production: no scheduler, no cost beyond one check).
 *
 * Guarantee a scheduler must keep: deliveries on one `channel` (the receiving process) run in
 * the order they were handed in — Erlang's per-pair message order, made per-receiver.
 */
export interface DeliveryScheduler {
  /**
   * Runs `deliver` later, at a point the scheduler chooses. `label` names the decision in
   * traces and decision logs (`send:<0.3>`, `exit:<0.4>`); it must not contain wall-clock data.
   */
  deliver(channel: number, label: string, deliver: () => void): void;
}
