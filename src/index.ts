// Ordo's public API: explicit named exports only. Subsystems are also exported as subpaths
// (`ordo/store`, `ordo/cluster`, `ordo/env`, `ordo/jobs`, `ordo/cache`, `ordo/health`).
// Internals (restart decisions, key codecs, report helpers) stay out: the API report in api/
// (`npm run api:update`) makes every change of this surface deliberate.

// errors
export { OrdoError, isOrdoError } from './errors.ts';

// env
export type { HttpAdapter, HttpRequest, HttpResponse, HttpServerHandle, HttpListenOptions, HttpRequestOptions } from './env/index.ts';
export type { Env, IoAdapters, Clock, TimerHandle, Random, IdSource, Logger, LogRecord, TestEnv, VirtualClock, FsAdapter, ProcessAdapter } from './env/index.ts';
export { createRealEnv, createTestEnv, createVirtualClock, createSeededRandom, createMemoryLogger } from './env/index.ts';

// actors
export {
  Pid,
  isPid,
  Kernel,
  createKernel,
  reply,
  isNormalExit,
  classifyExit,
  formatReason,
  ActorError,
  CallTimeoutError,
  NoProcError,
  CalleeExitError,
  StartTimeoutError,
  StartExitError,
  BadArgumentError,
} from './actors/index.ts';
export type { ReplyTo, ExitReason, CallResult, CallError, Target, RegisterResult, LifecycleEvent, StartResult, SpawnMachineOptions, ProcessInfo, ReportKind, ReportFields } from './actors/index.ts';

// supervisor and application
export {
  startSupervisor,
  supervisor,
  startChild,
  startDynamicChild,
  service,
  child,
  isPermanentReason,
  terminateChild,
  restartChild,
  deleteChild,
  whichChildren,
  whichChild,
  countChildren,
  getChildSpec,
  stopProcess,
  startApplication,
  validateChildSpec,
  validateFlags,
  SupervisorError,
  InvalidChildSpecError,
  DuplicateChildError,
  BadCombinationError,
  InvalidSupervisorFlagsError,
  FailedToStartChildError,
  MissingDependencyError,
  ApplicationStartError,
  ApplicationTag,
} from './supervisor/index.ts';
export type {
  ChildSpec,
  ChildStart,
  ChildType,
  MachineStart,
  StartFunction,
  ProvidesSpec,
  ServiceTag,
  Requirements,
  DepsOf,
  InputContext,
  StartRetrySpec,
  ServiceOf,
  TypedProvides,
  TypedMachineStart,
  TypedChildSpec,
  ChildPhase,
  NormalizedChildSpec,
  SupervisorSpec,
  SupervisorInit,
  SupervisorFlags,
  RestartType,
  Shutdown,
  Strategy,
  AutoShutdown,
  BackoffSpec,
  StartContext,
  ChildInfo,
  ChildCounts,
  StartChildResult,
  TerminateChildResult,
  RestartChildResult,
  DeleteChildResult,
  GetChildSpecResult,
  WhichChildResult,
  StartType,
  ApplicationOptions,
  ApplicationHandle,
  ApplicationHealth,
  ApplicationExit,
  ChildHealth,
  ApplicationStatus,
  HealthReason,
  ApplicationInfo,
  IntensityHealth,
} from './supervisor/index.ts';
export type { StartSupervisorOptions } from './supervisor/supervisor.ts';
