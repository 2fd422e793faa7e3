/**
 * Operator endpoints of the demo (no tenant header: they act on the whole app).
 * - `POST /demo/load` `{ tenants, concurrency, durationMs, holdMs }`: starts a bounded load run
 *   (each value clamped, see LOAD_LIMITS); 202 with the effective parameters; 409 while one runs.
 * - `GET /demo/load`: the run's status. `DELETE /demo/load`: stops it.
 * - `POST /demo/hold?n=7`, `POST /demo/release`: hold / release leases of the main pool exactly.
 */
import {
  BadRequestException,
  Body,
  Controller,
  DefaultValuePipe,
  Delete,
  Get,
  HttpCode,
  ParseIntPipe,
  Post,
  Query,
} from '@nestjs/common';
import { SkipTenant } from '@reservoir/tenant';
import { DemoLeases } from './demo-leases.service';
import { LOAD_LIMITS, type LoadParams, LoadService } from './load.service';

@SkipTenant()
@Controller('demo')
export class DemoController {
  constructor(
    private readonly load: LoadService,
    private readonly leases: DemoLeases,
  ) {}

  @Post('load')
  @HttpCode(202)
  startLoad(@Body() body: Partial<Record<keyof LoadParams, unknown>> | undefined) {
    if (body !== undefined && (body === null || typeof body !== 'object' || Array.isArray(body))) {
      throw new BadRequestException('body must be a JSON object');
    }
    // Out-of-range numbers are clamped (documented); a typo or a non-number is an error, not a default.
    for (const [key, value] of Object.entries(body ?? {})) {
      if (!(key in LOAD_LIMITS)) {
        throw new BadRequestException(
          `unknown load parameter "${key}"; known: ${Object.keys(LOAD_LIMITS).join(', ')}`,
        );
      }
      if (typeof value !== 'number' || !Number.isFinite(value)) {
        throw new BadRequestException(
          `load parameter "${key}" must be a finite number, got ${JSON.stringify(value)}`,
        );
      }
    }
    return this.load.start(body ?? {});
  }

  @Get('load')
  loadStatus() {
    return this.load.current();
  }

  @Delete('load')
  stopLoad() {
    return this.load.stop();
  }

  /** Acquires `n` more leases and keeps them (1 ≤ n ≤ free capacity). */
  @Post('hold')
  @HttpCode(200)
  hold(@Query('n', new DefaultValuePipe(1), ParseIntPipe) n: number) {
    if (n < 1 || n > 1000) throw new BadRequestException('n must be an integer between 1 and 1000');
    return this.leases.hold(n);
  }

  /** Releases every lease held by /demo/hold. */
  @Post('release')
  @HttpCode(200)
  release() {
    return this.leases.release();
  }
}
