/**
 * GET /dashboard: the live page (static HTML + JS, no build step, nothing from a CDN).
 * GET /dashboard/assets/:file: its script, styles and uPlot, from this app.
 * GET /dashboard/stream: Server-Sent Events. On every (re)connect the stream first sends
 *   `event: history` (all recent points, or only those after the Last-Event-ID the browser sends
 *   when it reconnects), then `event: sample` once a second. Event ids are `<boot>.<seq>`: a
 *   browser reconnecting to a restarted server (another boot) gets the full history and starts over.
 * GET /dashboard/snapshot: the latest snapshot and history as JSON.
 * GET /favicon.ico: the page's icon (an SVG), so a browser's default request for it is not a 404.
 */
import {
  Controller,
  Get,
  Header,
  Headers,
  NotFoundException,
  Param,
  Sse,
  StreamableFile,
  type MessageEvent,
} from '@nestjs/common';
import { type Observable, concat, map, of } from 'rxjs';
import { SkipTenant } from '@reservoir/tenant';
import { type Asset, loadDashboardAssets } from './dashboard.assets';
import { DashboardService, SAMPLE_INTERVAL_MS } from './dashboard.service';

@SkipTenant()
@Controller()
export class DashboardController {
  private readonly assets: Map<string, Asset> = loadDashboardAssets();

  constructor(private readonly dashboard: DashboardService) {}

  @Get('dashboard')
  @Header('Cache-Control', 'no-cache')
  page(): StreamableFile {
    return this.send('dashboard.html');
  }

  /** Browsers ask for it on any page of the origin (/health, /metrics too), whatever the HTML says. */
  @Get('favicon.ico')
  @Header('Cache-Control', 'public, max-age=86400')
  favicon(): StreamableFile {
    return this.send('favicon.svg');
  }

  @Get('dashboard/assets/:file')
  @Header('Cache-Control', 'no-cache')
  asset(@Param('file') file: string): StreamableFile {
    if (file === 'dashboard.html') throw new NotFoundException();
    return this.send(file);
  }

  @Get('dashboard/snapshot')
  @Header('Cache-Control', 'no-store')
  snapshot() {
    return this.dashboard.historySince();
  }

  @Sse('dashboard/stream')
  stream(@Headers('last-event-id') lastEventId?: string): Observable<MessageEvent> {
    const history = this.dashboard.historySince(lastEventId);
    const last = history.points.at(-1);
    return concat(
      of<MessageEvent>({
        type: 'history',
        data: history,
        retry: SAMPLE_INTERVAL_MS,
        ...(last !== undefined && { id: this.dashboard.eventId(last) }),
      }),
      this.dashboard.samples$.pipe(
        map((s): MessageEvent => ({ type: 'sample', id: this.dashboard.eventId(s.point), data: s })),
      ),
    );
  }

  private send(name: string): StreamableFile {
    const asset = this.assets.get(name);
    if (!asset) throw new NotFoundException(`no dashboard asset ${JSON.stringify(name)}`);
    return new StreamableFile(asset.body, { type: asset.type });
  }
}
