/** Types of scripts/demo-fleet.cjs for its spec. */
export function parsePorts(argv: string[], env: Record<string, string | undefined>): [number, number];
