/**
 * Operator endpoints of the demo (no tenant header: they act on the whole app).
 * - `POST /demo/load` `{ tenants, concurrency, durationMs, holdMs }`: starts a bounded load run that
 *   ramps up its workers (see load.params.ts); 202 with the effective parameters and the ramp; 400 for
 *   an unknown key or a value that is not an integer inside LOAD_LIMITS; 409 while one runs.
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
import { parseLoadBody } from './load.params';
import { LoadService } from './load.service';

@SkipTenant()
@Controller('demo')
export class DemoController {
  constructor(
    private readonly load: LoadService,
    private readonly leases: DemoLeases,
  ) {}

  @Post('load')
  @HttpCode(202)
  startLoad(@Body() body: unknown) {
    return this.load.start(parseLoadBody(body));
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
