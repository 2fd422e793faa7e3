/**
 * A TCP proxy in front of a real service that can fail the way networks do: `blackhole()` silently
 * drops every byte in both directions, on open connections and on new ones, and never resets a
 * socket (a partition, or a firewall dropping packets); `heal()` forwards again. Listens on a free
 * loopback port chosen by the OS.
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

export interface FaultProxy {
  readonly port: number;
  blackhole(): void;
  heal(): void;
  close(): Promise<void>;
}

export async function startFaultProxy(targetHost: string, targetPort: number): Promise<FaultProxy> {
  const sockets = new Set<Socket>();
  let dropping = false;
  const track = (s: Socket): void => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  };
  const server: Server = createServer((down) => {
    const up = connect(targetPort, targetHost);
    track(down);
    track(up);
    const kill = (): void => {
      down.destroy();
      up.destroy();
    };
    down.on('error', kill);
    up.on('error', kill);
    down.on('close', kill);
    up.on('close', kill);
    // Forward by hand (not pipe) so that bytes can be dropped while the sockets stay open.
    down.on('data', (chunk: Buffer) => {
      if (!dropping) up.write(chunk);
    });
    up.on('data', (chunk: Buffer) => {
      if (!dropping) down.write(chunk);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    blackhole: () => {
      dropping = true;
    },
    heal: () => {
      dropping = false;
    },
    close: () =>
      new Promise<void>((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}
