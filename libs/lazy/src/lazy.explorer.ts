import { Inject, Injectable, Logger, type OnModuleInit } from '@nestjs/common';
import { DiscoveryService, MetadataScanner } from '@nestjs/core';
import { LAZY_CORE, LAZY_WRAPPED } from './lazy.constants';
import { argumentKeyBuilder, customKeyBuilder, type KeyBuilder } from './lazy-key';
import { registerLazyMethod, type LazyLoaderCore } from './lazy-loader.core';
import { LazyMetadataAccessor } from './lazy-metadata.accessor';
import { LazyMessages } from './lazy.messages';

type Method = (...args: unknown[]) => unknown;

/**
 * Finds `@LazyResource()` methods on singleton providers and controllers in `onModuleInit`, registers
 * each as a resource and replaces the method on the instance with a caching wrapper. The prototype is
 * untouched, and the wrapper carries every metadata key of the original method, so other decorators
 * (guards, interceptors, event handlers, ...) still see theirs.
 */
@Injectable()
export class LazyExplorer implements OnModuleInit {
  private readonly logger = new Logger('LazyLoader');

  constructor(
    private readonly discovery: DiscoveryService,
    private readonly scanner: MetadataScanner,
    private readonly accessor: LazyMetadataAccessor,
    @Inject(LAZY_CORE) private readonly core: LazyLoaderCore,
  ) {}

  onModuleInit(): void {
    const wrappers = [...this.discovery.getProviders(), ...this.discovery.getControllers()];
    for (const wrapper of wrappers) {
      const instance = wrapper.instance as Record<string, unknown> | undefined;
      if (!instance || typeof instance !== 'object') continue;
      const proto = Object.getPrototypeOf(instance) as object | null;
      if (!proto) continue;
      for (const name of this.scanner.getAllMethodNames(proto)) {
        const method = (proto as Record<string, unknown>)[name];
        const options = this.accessor.getOptions(method);
        if (options === undefined) continue;
        const host = (instance.constructor as { name?: string }).name || String(wrapper.name);
        if (!wrapper.isDependencyTreeStatic()) {
          this.logger.warn(LazyMessages.requestScoped(host, name));
          continue;
        }
        const current = instance[name] as Method & { [LAZY_WRAPPED]?: true };
        if (current[LAZY_WRAPPED]) continue; // the same instance reached through another module
        this.wrap(instance, host, name, method as Method, options);
      }
    }
  }

  private wrap(
    instance: Record<string, unknown>,
    host: string,
    name: string,
    original: Method,
    options: object,
  ): void {
    const resourceName = `${host}.${name}`;
    const call = registerLazyMethod(this.core, resourceName, options, original, instance);
    const key = (options as { key?: (...args: never[]) => string }).key;
    const keyOf: KeyBuilder = key ? customKeyBuilder(resourceName, key) : argumentKeyBuilder(resourceName);
    const wrapped = function (...args: unknown[]): Promise<unknown> {
      let entryKey: string;
      try {
        entryKey = keyOf(args);
      } catch (err) {
        return Promise.reject(err);
      }
      return call(entryKey, args);
    };
    for (const k of Reflect.getMetadataKeys(original)) {
      Reflect.defineMetadata(k, Reflect.getMetadata(k, original), wrapped);
    }
    Object.defineProperty(wrapped, 'name', { value: name });
    Object.defineProperty(wrapped, LAZY_WRAPPED, { value: true });
    instance[name] = wrapped;
  }
}
