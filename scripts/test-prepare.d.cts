/** Types of scripts/test-prepare.cjs (plain CommonJS so `.ci/run` can run it before `npm ci`). */
import type { SpawnSyncOptions, SpawnSyncReturns } from 'node:child_process';

export interface Tool {
  command: string;
  pkg: string;
  neededBy: string;
}

export type ToolPlan =
  | { action: 'none' }
  | {
      action: 'install' | 'fail';
      missing: string[];
      packages: string[];
      command: string;
      message: string;
    };

export type Spawn = (command: string, args: string[], options: SpawnSyncOptions) => SpawnSyncReturns<string>;

export declare const TOOLS: Tool[];
export declare function installCommand(pkgs: string[]): string;
export declare function findOnPath(command: string, PATH: string | undefined): string | null;
export declare function planTools(input: {
  which: (command: string) => string | null;
  uid: number | undefined;
  tools?: Tool[];
}): ToolPlan;
export declare function provisionTools(input?: {
  PATH?: string;
  uid?: number;
  which?: (command: string) => string | null;
  spawn?: Spawn;
  log?: (line: string) => void;
  tools?: Tool[];
}): ToolPlan;
export declare function builtDemoMain(root?: string): string | null;
export declare function demoBuildNeeded(input: { builtMs: number | null; newestSourceMs: number }): {
  build: boolean;
  why: string;
};
export declare function ensureDemoBuilt(input?: {
  root?: string;
  spawn?: Spawn;
  log?: (line: string) => void;
}): string;
