/**
 * Tenant-scoped API. Every route here needs the `x-organisation-id` header (TenantModule's global
 * interceptor answers 400 without it, before the handler runs), and every repository call is
 * given the organisation from the tenant scope, never from the body or the URL.
 */
import {
  BadRequestException,
  Body,
  Controller,
  Delete,
  Get,
  HttpCode,
  Inject,
  NotFoundException,
  Param,
  ParseBoolPipe,
  Patch,
  Post,
  Put,
  Query,
} from '@nestjs/common';
import { CurrentTenant } from '@reservoir/tenant';
import { PROJECTS_REPOSITORY, type ProjectsRepository } from '../db/db.types';
import { ParseIdPipe } from './parse-id.pipe';
import { PricingService, TenantSettingsService } from '../settings/lazy-resources.service';

function requireText(value: unknown, field: string, max = 200): string {
  if (typeof value !== 'string' || value.trim() === '' || value.length > max) {
    throw new BadRequestException(`${field} must be a non-empty string of at most ${max} characters`);
  }
  return value.trim();
}

@Controller()
export class ProjectsController {
  constructor(
    @Inject(PROJECTS_REPOSITORY) private readonly repo: ProjectsRepository,
    private readonly settingsService: TenantSettingsService,
    private readonly pricingService: PricingService,
  ) {}

  @Get('projects')
  list(@CurrentTenant() org: string) {
    return this.repo.listProjects(org);
  }

  @Post('projects')
  create(@CurrentTenant() org: string, @Body() body: { name?: unknown }) {
    return this.repo.createProject(org, requireText(body?.name, 'name'));
  }

  @Get('projects/:id')
  async get(@CurrentTenant() org: string, @Param('id', new ParseIdPipe('project')) id: number) {
    const project = await this.repo.getProject(org, id);
    if (!project) throw new NotFoundException(`project ${id} not found`);
    return project;
  }

  @Delete('projects/:id')
  @HttpCode(204)
  async remove(@CurrentTenant() org: string, @Param('id', new ParseIdPipe('project')) id: number) {
    if (!(await this.repo.deleteProject(org, id))) throw new NotFoundException(`project ${id} not found`);
  }

  @Get('projects/:id/tasks')
  async tasks(@CurrentTenant() org: string, @Param('id', new ParseIdPipe('project')) id: number) {
    const tasks = await this.repo.listTasks(org, id);
    if (!tasks) throw new NotFoundException(`project ${id} not found`);
    return tasks;
  }

  @Post('projects/:id/tasks')
  async addTask(
    @CurrentTenant() org: string,
    @Param('id', new ParseIdPipe('project')) id: number,
    @Body() body: { title?: unknown },
  ) {
    const task = await this.repo.createTask(org, id, requireText(body?.title, 'title'));
    if (!task) throw new NotFoundException(`project ${id} not found`);
    return task;
  }

  @Patch('tasks/:id')
  async setDone(
    @CurrentTenant() org: string,
    @Param('id', new ParseIdPipe('task')) id: number,
    @Body() body: { done?: unknown },
  ) {
    if (typeof body?.done !== 'boolean') throw new BadRequestException('done must be true or false');
    const task = await this.repo.setTaskDone(org, id, body.done);
    if (!task) throw new NotFoundException(`task ${id} not found`);
    return task;
  }

  /** Settings and feature flags of the caller's organisation, from LazyModule, with its version. */
  @Get('settings')
  async settings() {
    const settings = await this.settingsService.settings();
    return { version: this.settingsService.version(), stale: this.settingsService.isStale(), settings };
  }

  /** Sets a feature flag and reloads this organisation's settings (the version increases). */
  @Put('settings/flags/:flag')
  async setFlag(@Param('flag') flag: string, @Body() body: { enabled?: unknown }) {
    if (!/^[A-Za-z][A-Za-z0-9_-]{0,39}$/.test(flag)) throw new BadRequestException('invalid flag name');
    if (typeof body?.enabled !== 'boolean') throw new BadRequestException('enabled must be true or false');
    const settings = await this.settingsService.setFlag(flag, body.enabled);
    return { version: this.settingsService.version(), settings };
  }

  /** Drops the caller's cached settings (fleet-wide with the shared tier); the next read reloads. */
  @Delete('settings/cache')
  invalidateSettings() {
    return { invalidated: this.settingsService.invalidate() };
  }

  /** The global pricing table (slow to load, preloaded at bootstrap), with its version. */
  @Get('pricing')
  async pricing() {
    const table = await this.pricingService.table();
    return { version: this.pricingService.version(), stale: this.pricingService.isStale(), ...table };
  }

  /** Forces a reload: the version increases. `?bump=true` also changes the source first (drift). */
  @Post('pricing/refresh')
  @HttpCode(200)
  async refreshPricing(@Query('bump', new ParseBoolPipe({ optional: true })) bump?: boolean) {
    const table = await this.pricingService.refresh(bump === true);
    return { version: this.pricingService.version(), ...table };
  }
}
