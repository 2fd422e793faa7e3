/** Every message of the demo's load endpoint, in one place (the e2e tests pin them). */
export const LoadMessages = {
  notAnObject: () => 'body must be a JSON object',
  unknownParam: (key: string, known: readonly string[]) =>
    `unknown load parameter ${JSON.stringify(key)}; known: ${known.join(', ')}`,
  notANumber: (key: string, value: unknown) =>
    `load parameter "${key}" must be a finite number, got ${typeof value === 'number' ? value : JSON.stringify(value)}`,
  outOfRange: (key: string, value: number, min: number, max: number) =>
    `load parameter "${key}" is out of range: got ${value}, allowed ${min} to ${max}`,
  notAnInteger: (key: string, value: number) => `load parameter "${key}" must be an integer, got ${value}`,
  alreadyRunning: (endsAt: string | null) =>
    `a load run is already going until ${endsAt}; DELETE /demo/load stops it`,
} as const;
