import { Injectable } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { LAZY_RESOURCE_METADATA } from './lazy.constants';
import type { LazyResourceOptions } from './lazy.options';

/** Typed reader of `@LazyResource()` metadata. */
@Injectable()
export class LazyMetadataAccessor {
  constructor(private readonly reflector: Reflector) {}

  /** The options given to `@LazyResource()` on `method`, or undefined when not decorated. */
  getOptions(method: unknown): LazyResourceOptions | undefined {
    if (typeof method !== 'function') return undefined;
    return this.reflector.get<LazyResourceOptions | undefined>(LAZY_RESOURCE_METADATA, method);
  }
}
