// `ordo replay`: --list, a replay's table and exit code, usage errors on stderr with exit 2.
import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.ts';
import type { CliIo } from '../../src/cli/io.ts';

const incidents = new URL('../../examples/incidents/index.ts', import.meta.url).href;
function io(): CliIo & { stdout: string; stderr: string } {
  const o = { stdout: '', stderr: '', isTTY: false, vars: {} as Record<string, string | undefined>, out: (s: string) => void (o.stdout += s), err: (s: string) => void (o.stderr += s) };
  return o;
}

describe('ordo replay', () => {
  it('--list names the incidents', async () => {
    const o = io();
    expect(await main(['replay', '--list'], { incidents }, o)).toBe(0);
    expect(o.stdout).toMatch(/^2025-02-25 /m);
  });
  it('replays an incident both ways and prints the table; exit 0 when every step replayed as documented', async () => {
    const o = io();
    expect(await main(['replay', '2025-02-25', '--seeds', '2'], { incidents }, o)).toBe(0);
    expect(o.stdout).toContain('with Ordo (seeds passed)');
    for (const step of ['2 ', '5 ', '6 ', '8 ', '11–16']) expect(o.stdout).toMatch(new RegExp(`^${step}`, 'm'));
    expect(o.stdout).not.toContain('NOT AS DOCUMENTED');
    expect(o.stdout.match(/2\/2/g)?.length).toBeGreaterThanOrEqual(5);
    expect(o.stderr).toBe('');
  });
  it('an unknown incident or a bad --seeds is a usage error on stderr, exit 2', async () => {
    const a = io();
    expect(await main(['replay', '1999-01-01'], { incidents }, a)).toBe(2);
    expect(a.stderr).toContain("no incident '1999-01-01'");
    expect(a.stdout).toBe('');
    const b = io();
    expect(await main(['replay', '2025-02-25', '--seeds', '0'], { incidents }, b)).toBe(2);
    expect(b.stderr).toContain('--seeds');
  });
});
