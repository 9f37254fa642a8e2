import { isPid, type Pid } from '../actors/index.ts';
import { newRecord, type ChildRecord } from './childRecord.ts';
import type { SupervisorServer } from './supervisorServer.ts';
import type { AdminRequest, ChildCounts, ChildInfo, DeleteChildResult, GetChildSpecResult, RestartChildResult, StartChildResult, TerminateChildResult, WhichChildResult } from './adminProtocol.ts';
import type { InvalidChildSpecError } from './errors.ts';

/** @internal Answers one admin request inside the supervisor's mailbox loop (conformance §1.12). */
export async function handleAdmin(sup: SupervisorServer, req: AdminRequest): Promise<unknown> {
  switch (req.type) {
    case 'startChild':
      return sup.isDynamic ? startDynamic(sup, req.args) : startStatic(sup, req.spec);
    case 'terminateChild':
      return terminate(sup, req.target);
    case 'restartChild':
      return restart(sup, req.id);
    case 'deleteChild':
      return del(sup, req.id);
    case 'whichChildren':
      return which(sup);
    case 'whichChild':
      return whichOne(sup, req.target);
    case 'countChildren':
      return count(sup);
    case 'getChildSpec':
      return getSpec(sup, req.target);
    default:
      return { ok: false, error: 'unknown_request', request: req };
  }
}

async function startStatic(sup: SupervisorServer, spec: unknown): Promise<StartChildResult> {
  const v = sup.validate(spec);
  if (!v.ok) return { ok: false, error: 'invalid_spec', cause: v.error as InvalidChildSpecError };
  const existing = sup.find(v.value.id);
  if (existing) {
    if (existing.pid) return { ok: false, error: 'already_started', pid: existing.pid };
    return { ok: false, error: 'already_present' };
  }
  const rec = newRecord(sup.newKey(), v.value);
  const res = await sup.startRecord(rec);
  switch (res.status) {
    case 'ok':
      sup.children.push(rec);
      sup.changed(); // told by startRecord before the record was one of the children
      return { ok: true, pid: res.pid, info: res.info };
    case 'ignore':
      if (rec.spec.restart !== 'temporary') {
        sup.children.push(rec);
        sup.changed();
      }
      return { ok: true, pid: undefined };
    case 'already_started':
      return { ok: false, error: 'already_started', pid: res.pid };
    case 'error':
      return { ok: false, error: 'start_failed', reason: res.error };
  }
}

async function startDynamic(sup: SupervisorServer, args: unknown): Promise<StartChildResult> {
  if (sup.dynamic.size >= sup.flags.maxChildren) return { ok: false, error: 'max_children' };
  const rec = newRecord(sup.newKey(), sup.template, args);
  sup.dynamic.set(rec.key, rec);
  const res = await sup.startRecord(rec);
  if (res.status === 'ok') return { ok: true, pid: res.pid, info: res.info };
  sup.dynamic.delete(rec.key);
  sup.changed();
  if (res.status === 'ignore') return { ok: true, pid: undefined };
  if (res.status === 'already_started') return { ok: false, error: 'already_started', pid: res.pid };
  return { ok: false, error: 'start_failed', reason: res.error };
}

async function terminate(sup: SupervisorServer, target: string | Pid): Promise<TerminateChildResult> {
  if (sup.isDynamic) {
    if (!isPid(target)) return { ok: false, error: 'simple_one_for_one' };
    // A restarting child is found by its old pid: terminating it drops the pending retry (§1.8).
    const rec = sup.findByPid(target) ?? sup.findRestarting(target);
    if (!rec) return sup.kernel.isAlive(target) ? { ok: false, error: 'not_found' } : { ok: true };
    await sup.stopRecord(rec);
    sup.remove(rec);
    return { ok: true };
  }
  if (isPid(target)) return { ok: false, error: 'not_found' };
  const rec = sup.find(target);
  if (!rec) return { ok: false, error: 'not_found' };
  await sup.stopRecord(rec);
  if (rec.spec.restart === 'temporary') sup.remove(rec);
  return { ok: true };
}

async function restart(sup: SupervisorServer, id: string): Promise<RestartChildResult> {
  if (sup.isDynamic) return { ok: false, error: 'simple_one_for_one' };
  const rec = sup.find(id);
  if (!rec) return { ok: false, error: 'not_found' };
  if (rec.restarting) return { ok: false, error: 'restarting' };
  if (rec.pid) return { ok: false, error: 'running' };
  const res = await sup.startRecord(rec);
  if (res.status === 'ok') return { ok: true, pid: res.pid, info: res.info };
  if (res.status === 'ignore') return { ok: true, pid: undefined };
  return { ok: false, error: 'start_failed', reason: res.status === 'error' ? res.error : { alreadyStarted: res.pid } };
}

function del(sup: SupervisorServer, id: string): DeleteChildResult {
  if (sup.isDynamic) return { ok: false, error: 'simple_one_for_one' };
  const rec = sup.find(id);
  if (!rec) return { ok: false, error: 'not_found' };
  if (rec.restarting) return { ok: false, error: 'restarting' };
  if (rec.pid) return { ok: false, error: 'running' };
  sup.remove(rec);
  return { ok: true };
}

function info(sup: SupervisorServer, r: ChildRecord): ChildInfo {
  return { id: sup.isDynamic ? undefined : r.spec.id, pid: r.restarting ? 'restarting' : r.pid, type: r.spec.type };
}

function which(sup: SupervisorServer): ChildInfo[] {
  const recs = sup.isDynamic ? [...sup.dynamic.values()] : sup.children;
  return recs.map((r) => info(sup, r)).reverse();
}

function whichOne(sup: SupervisorServer, target: string | Pid): WhichChildResult {
  if (sup.isDynamic) {
    if (!isPid(target)) return { ok: false, error: 'simple_one_for_one' };
    const rec = sup.findByPid(target);
    return rec ? { ok: true, child: info(sup, rec) } : { ok: false, error: 'not_found' };
  }
  const rec = typeof target === 'string' ? sup.find(target) : undefined;
  return rec ? { ok: true, child: info(sup, rec) } : { ok: false, error: 'not_found' };
}

function count(sup: SupervisorServer): ChildCounts {
  if (sup.isDynamic) {
    const n = sup.dynamic.size;
    const restarting = [...sup.dynamic.values()].filter((r) => r.restarting).length;
    const isSup = sup.template.type === 'supervisor';
    return { specs: 1, active: n - restarting, supervisors: isSup ? n : 0, workers: isSup ? 0 : n };
  }
  let active = 0;
  let supervisors = 0;
  for (const r of sup.children) {
    if (r.pid && sup.kernel.isAlive(r.pid)) active++;
    if (r.spec.type === 'supervisor') supervisors++;
  }
  return { specs: sup.children.length, active, supervisors, workers: sup.children.length - supervisors };
}

function getSpec(sup: SupervisorServer, target: string | Pid): GetChildSpecResult {
  if (sup.isDynamic) {
    if (isPid(target) && sup.findByPid(target)) return { ok: true, spec: sup.template };
    return { ok: false, error: 'not_found' };
  }
  const rec = isPid(target) ? sup.findByPid(target) : sup.find(target);
  return rec ? { ok: true, spec: rec.spec } : { ok: false, error: 'not_found' };
}
