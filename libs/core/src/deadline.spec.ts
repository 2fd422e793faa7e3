import { withDeadline } from './deadline';

describe('withDeadline', () => {
  it('passes a plain value and a settled promise through', async () => {
    await expect(withDeadline(5, 10, () => new Error('late'))).resolves.toBe(5);
    await expect(withDeadline(Promise.resolve('ok'), 10, () => new Error('late'))).resolves.toBe('ok');
    await expect(
      withDeadline(Promise.reject(new Error('boom')), 10, () => new Error('late')),
    ).rejects.toThrow('boom');
  });

  it('rejects with onTimeout() when the promise never settles', async () => {
    const t0 = Date.now();
    await expect(withDeadline(new Promise(() => undefined), 50, () => new Error('late'))).rejects.toThrow(
      'late',
    );
    expect(Date.now() - t0).toBeGreaterThanOrEqual(45);
  });

  it('Infinity disables the bound', async () => {
    let settle!: (v: number) => void;
    const p = withDeadline(new Promise<number>((r) => (settle = r)), Infinity, () => new Error('late'));
    setTimeout(() => settle(7), 20);
    await expect(p).resolves.toBe(7);
  });
});
