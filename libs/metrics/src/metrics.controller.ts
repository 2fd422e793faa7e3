import { Controller, Get, Res, type Type } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { SkipTenant } from '@reservoir/tenant';
import { ReservoirMetrics } from './metrics.service';

/**
 * Builds the scrape endpoint's controller for one module instance, at `path`. A fresh class per
 * call, so two apps (or two modules) with different paths never share route metadata. It is
 * `@SkipTenant()`: Prometheus scrapes carry no organisation header.
 */
export function createMetricsController(path: string): Type<unknown> {
  @SkipTenant()
  @Controller(path)
  class ReservoirMetricsController {
    constructor(
      readonly metrics: ReservoirMetrics,
      readonly adapterHost: HttpAdapterHost,
    ) {}

    @Get()
    async scrape(@Res({ passthrough: true }) res: unknown): Promise<string> {
      const body = await this.metrics.metrics();
      this.adapterHost.httpAdapter.setHeader(res, 'Content-Type', this.metrics.contentType);
      this.adapterHost.httpAdapter.setHeader(res, 'Cache-Control', 'no-store');
      return body;
    }
  }
  return ReservoirMetricsController;
}
