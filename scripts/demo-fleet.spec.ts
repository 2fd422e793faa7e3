import { parsePorts } from './demo-fleet.cjs';

describe('demo:fleet ports', () => {
  it('defaults to 3000 and 3001, takes two arguments or FLEET_PORTS', () => {
    expect(parsePorts([], {})).toEqual([3000, 3001]);
    expect(parsePorts(['4000', '4001'], { FLEET_PORTS: '1,2' })).toEqual([4000, 4001]);
    expect(parsePorts([], { FLEET_PORTS: '5000, 5001' })).toEqual([5000, 5001]);
  });

  it('names the source and what is allowed for bad ports', () => {
    expect(() => parsePorts(['3000'], {})).toThrow(
      'invalid ports in arguments ("3000"): expected two different integers from 1 to 65535, e.g. 3000 3001',
    );
    expect(() => parsePorts([], { FLEET_PORTS: '3000,3000' })).toThrow(
      'invalid ports in FLEET_PORTS ("3000,3000")',
    );
    expect(() => parsePorts(['3000', '70000'], {})).toThrow('invalid ports in arguments ("3000,70000")');
  });
});
