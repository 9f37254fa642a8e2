// startApplication({ version }): the code version is reported at boot, in health(), and on
// /health/ready (seed 003 step 9: a cached build shipped the old code unnoticed).
import { describe, expect, it } from 'vitest';
import { createTestEnv, startApplication } from '../../src/index.ts';
import { healthResponse } from '../../src/health/index.ts';
import { w } from '../support/otp.ts';

describe('application version', () => {
  it('is in the application_started report, in health() and in the /health/ready body', async () => {
    const env = createTestEnv();
    const app = startApplication({ name: 'shop', env, handleSignals: false, version: '5b3725d', tree: { strategy: 'one_for_one', maxRestarts: 0, periodMs: 1000, children: [w('a')] } });
    await app.ready;
    expect(env.records.find((r) => r['report'] === 'application_started')?.['version']).toBe('5b3725d');
    expect(app.health().version).toBe('5b3725d');
    const info = { name: 'shop', health: () => app.health() };
    const res = await healthResponse({ method: 'GET', url: '/health/ready' }, { app: info, caches: [], sources: [], registry: { contentType: 'text/plain', metrics: async () => '' } } as never);
    expect(JSON.parse(res.body)).toMatchObject({ status: 'ready', version: '5b3725d' });
    await app.stop();
  });
  it('is absent when none was given', async () => {
    const env = createTestEnv();
    const app = startApplication({ name: 'shop', env, handleSignals: false, tree: { strategy: 'one_for_one', maxRestarts: 0, periodMs: 1000, children: [w('a')] } });
    await app.ready;
    expect(app.health()).not.toHaveProperty('version');
    expect(env.records.find((r) => r['report'] === 'application_started')).not.toHaveProperty('version');
    await app.stop();
  });
});
