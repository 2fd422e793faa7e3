import type { Server } from 'node:http';
import { Injectable, type BeforeApplicationShutdown, type OnApplicationShutdown } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';

/**
 * Lets the HTTP server finish closing on SIGTERM while browsers keep connections alive.
 *
 * Nest closes the HTTP server after `beforeApplicationShutdown` and waits for every connection to
 * end. In-flight requests finish normally, but an idle keep-alive connection that a browser reuses
 * (an open dashboard's EventSource reconnects on it within a second) would hold shutdown open for
 * as long as the browser stays. So while the server closes, idle connections are closed every
 * 100 ms; connections with a request in progress are never touched.
 */
@Injectable()
export class HttpDrain implements BeforeApplicationShutdown, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(private readonly adapterHost: HttpAdapterHost) {}

  beforeApplicationShutdown(): void {
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (typeof server?.closeIdleConnections !== 'function') return;
    this.timer = setInterval(() => server.closeIdleConnections(), 100);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }
}
