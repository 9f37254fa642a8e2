export type {
  RestartType,
  ChildType,
  Shutdown,
  Strategy,
  AutoShutdown,
  BackoffSpec,
  StartContext,
  MachineStart,
  StartFunction,
  ChildStart,
  ProvidesSpec,
  ServiceTag,
  Requirements,
  DepsOf,
  InputContext,
  StartRetrySpec,
  ChildSpec,
  NormalizedChildSpec,
  SupervisorFlags,
  NormalizedFlags,
  SupervisorSpec,
  SupervisorInit,
} from './types.ts';
export { DEFAULT_FLAGS, DEFAULT_CHILD, DEFAULT_BACKOFF } from './defaults.ts';
export {
  SupervisorError,
  InvalidChildSpecError,
  DuplicateChildError,
  BadCombinationError,
  InvalidSupervisorFlagsError,
  FailedToStartChildError,
  MissingDependencyError,
} from './errors.ts';
export { validateFlags, validateChildSpec, validateChildSpecs } from './validate.ts';
export type { Validated } from './validate.ts';
export { addRestart } from './restartIntensity.ts';
export { decideRestart } from './decideRestart.ts';
export { restartSet } from './strategies.ts';
export type { StrategyChild } from './strategies.ts';
export { backoffDelay, nextAttempt } from './backoff.ts';
export { shouldAutoShutdown } from './autoShutdown.ts';
export {
  startSupervisor,
  supervisor,
  startChild,
  startDynamicChild,
  terminateChild,
  restartChild,
  deleteChild,
  whichChildren,
  whichChild,
  countChildren,
  getChildSpec,
  stopProcess,
} from './supervisor.ts';
export type { StartSupervisorOptions } from './supervisor.ts';
export type {
  StartChildResult,
  TerminateChildResult,
  RestartChildResult,
  DeleteChildResult,
  ChildInfo,
  WhichChildResult,
  ChildCounts,
  GetChildSpecResult,
} from './adminProtocol.ts';
export { startApplication, ApplicationStartError, ApplicationTag } from './application.ts';
export type { StartType, ApplicationOptions, ApplicationExit, ApplicationHandle, ApplicationHealth, ChildHealth, ApplicationStatus, HealthReason, ApplicationInfo, IntensityHealth } from './application.ts';
export { service, child } from './services.ts';
export type { ServiceOf, TypedProvides, TypedMachineStart, TypedChildSpec } from './services.ts';
export { isPermanentReason } from './permanent.ts';
export type { ChildPhase } from './describe.ts';
