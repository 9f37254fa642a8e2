import type { Env } from '../../src/index.ts';
import type { Store } from '../../src/store/index.ts';
/** The seed's table (`000_…`): BUX points per user, leaderboard by `bux_balance` index. */
export declare const demoTables: {
    user_bux_points: {
        type: "ordered_set";
        key: string;
        attributes: {
            user_id: {
                type: "integer";
            };
            bux_balance: {
                type: "integer";
                default: number;
            };
            updated_at: {
                type: "number";
                default: number;
            };
        };
        indexes: string[];
        replicated: boolean;
    };
};
/** Reads the top `n` users by `bux_balance`: an index range, never a sort of the table. */
export declare function topUsers(store: Store, n: number): {
    user_id: number;
    bux_balance: number;
}[];
export interface Leaderboard {
    top(): {
        user_id: number;
        bux_balance: number;
    }[];
    refreshes(): number;
}
/** Leaderboard cache: loads from the store (given in its input, only once the store is ready), refreshes on change. */
export declare const leaderboardCache: import("xstate").StateMachine<{
    store: Store;
    size: number;
    top: {
        user_id: number;
        bux_balance: number;
    }[];
    refreshes: number;
    service: Leaderboard;
    unsubscribe?: () => void;
}, {
    type: "changed";
} | {
    type: "ordo.stop";
    reason?: unknown;
}, {
    [x: string]: import("xstate").ActorRefFromLogic<import("xstate").PromiseActorLogic<{
        user_id: number;
        bux_balance: number;
    }[], {
        store: Store;
        size: number;
    }, import("xstate").EventObject>> | undefined;
}, {
    src: "load";
    logic: import("xstate").PromiseActorLogic<{
        user_id: number;
        bux_balance: number;
    }[], {
        store: Store;
        size: number;
    }, import("xstate").EventObject>;
    id: string | undefined;
}, never, never, never, "stopped" | "loading" | "serving", string, {
    store: Store;
    size: number;
}, import("xstate").NonReducibleUnknown, import("xstate").EventObject, import("xstate").MetaObject, {
    id: "leaderboard";
    states: {
        readonly loading: {};
        readonly serving: {};
        readonly stopped: {};
    };
}, import("xstate").MetaObject>;
/** Awards BUX to a random user every `everyMs` in a store transaction; crashes once on tick `crashAt`. */
export declare const jobTicker: import("xstate").StateMachine<{
    env: Env;
    store: Store;
    everyMs: number;
    ticks: number;
    crashAt: number;
    crashed: {
        done: boolean;
    };
}, import("xstate").AnyEventObject, {
    [x: string]: import("xstate").ActorRefFromLogic<import("xstate").PromiseActorLogic<void, {
        env: Env;
        store: Store;
    }, import("xstate").EventObject>> | undefined;
}, {
    src: "award";
    logic: import("xstate").PromiseActorLogic<void, {
        env: Env;
        store: Store;
    }, import("xstate").EventObject>;
    id: string | undefined;
}, {
    type: "injectCrash";
    params: unknown;
}, {
    type: "crashNow";
    params: unknown;
}, "every", "stopped" | "idle" | "working", string, {
    env: Env;
    store: Store;
    everyMs: number;
    crashAt: number;
    crashed: {
        done: boolean;
    };
}, import("xstate").NonReducibleUnknown, import("xstate").EventObject, import("xstate").MetaObject, {
    id: "ticker";
    states: {
        readonly idle: {};
        readonly working: {};
        readonly stopped: {};
    };
}, import("xstate").MetaObject>;
/** A stand-in HTTP front: ready once the leaderboard it serves is. */
export declare const httpFront: import("xstate").StateMachine<{
    service: {
        leaderboard: Leaderboard;
    };
}, import("xstate").AnyEventObject, {}, never, never, never, never, "closed" | "listening", string, {
    leaderboard: Leaderboard;
}, import("xstate").NonReducibleUnknown, import("xstate").EventObject, import("xstate").MetaObject, {
    id: "http";
    states: {
        readonly listening: {};
        readonly closed: {};
    };
}, import("xstate").MetaObject>;
//# sourceMappingURL=machines.d.ts.map