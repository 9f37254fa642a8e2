import { describe, expect, it } from 'vitest';
import type { Env } from '../../src/env/index.ts';
import { fetchTree } from '../../src/cli/nodeTree.ts';

/** An Env whose http adapter answers `GET` with `answer` (or throws it). */
function envAnswering(answer: { status: number; body: string } | Error): Env {
  const get = async (): Promise<{ status: number; body: string }> => {
    if (answer instanceof Error) throw answer;
    return answer;
  };
  return { io: { http: { get } } } as unknown as Env;
}

describe('fetchTree (ordo health, ordo jobs list --url)', () => {
  it('parses a node answer', async () => {
    await expect(fetchTree(envAnswering({ status: 200, body: '{"status":"running"}' }), 'http://n')).resolves.toEqual({ status: 'running' });
  });
  it('a body that is not JSON is a CommandError naming the URL, not a SyntaxError', async () => {
    await expect(fetchTree(envAnswering({ status: 200, body: '<html>proxy error</html>' }), 'http://n')).rejects.toMatchObject({ code: 'ORDO_CLI_FAILED', message: expect.stringContaining('http://n/tree did not answer JSON') });
  });
  it('another status and no answer are CommandErrors', async () => {
    await expect(fetchTree(envAnswering({ status: 503, body: '{}' }), 'http://n')).rejects.toMatchObject({ message: 'http://n/tree answered 503' });
    await expect(fetchTree(envAnswering(new Error('ECONNREFUSED')), 'http://n')).rejects.toMatchObject({ message: expect.stringContaining('no node answers at http://n') });
  });
});
