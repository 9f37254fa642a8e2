/**
 * `ordo/chaos`: deterministic simulation of Ordo trees — scenarios, seeded faults, invariants,
 * shrinking, reports. See docs/chaos.md.
 */
export { runScenario, replayCommand } from './runner.ts';
export type { RunOptions, RunReport, Violation } from './runner.ts';
export { sweep } from './sweep.ts';
export type { SweepOptions, SweepSummary, SeedResult, ScenarioModule } from './sweep.ts';
export { shrink } from './shrink.ts';
export type { ShrinkResult } from './shrink.ts';
export { chaosTest, ChaosTestFailure } from './chaosTest.ts';
export { validateScenario } from './scenario.ts';
export type { Scenario, ScenarioContext, TreeData, ChildData, TimelineFault, InvariantSpec } from './scenario.ts';
export type { Distribution } from './distribution.ts';
export type { RandomFaults, FaultPointConfig, FaultCoverage } from './faultPlan.ts';
export type { ScheduleStrategy, Divergence, DecisionStrategy } from './scheduleStrategy.ts';
export { oracles } from './oracles.ts';
export type { Oracle, RunView, Verdict } from './oracles.ts';
export { Simulation } from './simulation.ts';
export type { SimulationOptions, TraceEvent, SimLogRecord, RunEnd } from './simulation.ts';
export { createRandomStreams, streamSeed } from './streams.ts';
export type { RandomStreams } from './streams.ts';
export { createSimKv } from './simKv.ts';
export type { SimKv, SimKvOptions, SimKvState } from './simKv.ts';
export { createMemoryKv } from './memoryKv.ts';
export type { MemoryKvOptions } from './memoryKv.ts';
export { renderTimeline, renderSummary, renderSvg, toJsonl } from './report.ts';
export { shippedScenarios, restForOneService, oneForAllWorkers, nestedTree, supervisorInvariants } from './scenarios/library.ts';
export { cluster3Scenario, clusterNodesScenario, clusterNodeTree } from './scenarios/cluster3.ts';
export { clusterOracles, oneLeaderAtATime, leaderChanged, membershipConverged } from './clusterOracles.ts';
export type { NodeBoot } from './nodes.ts';
export { simChildMachine } from './library.ts';
export type { SimChildInput } from './library.ts';
export { ChaosError, DeterminismError, ScenarioError, SimulationBusyError } from './errors.ts';
export { withGuard, holdGuard } from './guard.ts';
export type { GuardContext, AmbientUse } from './guard.ts';
export { createSimResolver } from './simResolver.ts';
export type { SimResolverOptions } from './simResolver.ts';
export { SimNats } from './simNats.ts';
export type { SimNatsOptions } from './simNats.ts';
